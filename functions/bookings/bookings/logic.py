"""Booking rules as plain functions, handed a session, the caller and a clock.

The booking transaction (nothing but Postgres is called while the row lock is held):

1. one guarded UPDATE takes the seats and the event row's lock at once, only
   if the event is open, has the seats, and the token's version is current
   (a primary-key probe of users inside the statement: no extra round trip,
   no extra connection checkout);
2. one SELECT reads the booker's confirmed seats on the event and any earlier
   use of the Idempotency-Key (after the lock, so it sees every commit);
3. one statement writes the booking, the key and the outbox message; COMMIT.

Why the guarded UPDATE and not SELECT ... FOR UPDATE first: a guarded UPDATE
that matches nothing takes no lock, so refusals (most requests of a flash sale
once it sells out) never queue behind real buyers; successful bookings cost
about the same either way. BENCHMARKS.md has the measurements. The price is one
more lock-free query on the refusal path to tell sold out from closed, unknown
or revoked.

Each use case owns its transaction: it commits on success, and anything it
leaves uncommitted is rolled back when the session closes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania.db import bookings as booking_table
from ticketmania.db import events as event_table
from ticketmania.db.models import Booking, User
from ticketmania.errors import (
    AlreadyCancelled,
    EventClosed,
    IdempotencyMismatch,
    InvalidToken,
    LimitExceeded,
    NotFound,
    SoldOut,
)
from ticketmania.observability import count, logger
from ticketmania.security import TokenClaims

# The refusal read can find the seats back (a cancellation landed in between):
# then the guarded UPDATE is tried again, a bounded number of times.
MAX_ATTEMPTS = 3


def request_hash(*, event_id: int, seats_booked: int) -> str:
    canonical = json.dumps(
        {"event_id": event_id, "seats_booked": seats_booked}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(
    session: Session, prior: booking_table.PriorRequest, digest: str
) -> Booking:
    if prior.request_hash != digest:
        raise IdempotencyMismatch()
    booking = booking_table.get_booking(session, prior.booking_id)
    assert booking is not None  # keys reference bookings, which are never deleted
    return booking


def book_seats(
    session: Session,
    *,
    claims: TokenClaims,
    event_id: int,
    seats: int,
    idempotency_key: str | None,
    max_seats_per_user: int,
    now: datetime,
) -> tuple[Booking, bool]:
    """Book seats for the token's user. Returns the booking and whether it is new
    (False: a retry under the same Idempotency-Key, answered with the original)."""
    logger.append_keys(event_id=event_id)
    digest = request_hash(event_id=event_id, seats_booked=seats)
    for _ in range(MAX_ATTEMPTS):
        is_taken = event_table.take_seats(
            session,
            event_id=event_id,
            seats=seats,
            user_id=claims.user_id,
            token_version=claims.token_version,
            now=now,
        )
        if is_taken:
            return _confirm(
                session,
                claims=claims,
                event_id=event_id,
                seats=seats,
                idempotency_key=idempotency_key,
                digest=digest,
                max_seats_per_user=max_seats_per_user,
            )
        # No rollback needed: an UPDATE that matched nothing changed and locked nothing.
        original = _refuse(
            session,
            claims=claims,
            event_id=event_id,
            seats=seats,
            idempotency_key=idempotency_key,
            digest=digest,
            now=now,
        )
        if original is not None:
            return original, False
    raise SoldOut("Seats are changing hands fast; try again")


def _confirm(
    session: Session,
    *,
    claims: TokenClaims,
    event_id: int,
    seats: int,
    idempotency_key: str | None,
    digest: str,
    max_seats_per_user: int,
) -> tuple[Booking, bool]:
    """Seats taken and the row locked: check the key and the cap, then write."""
    state = booking_table.read_user_event_state(
        session,
        user_id=claims.user_id,
        event_id=event_id,
        idempotency_key=idempotency_key,
    )
    if state.prior_request is not None:
        session.rollback()
        return _replay(session, state.prior_request, digest), False
    if state.confirmed_seats + seats > max_seats_per_user:
        session.rollback()
        left = max(max_seats_per_user - state.confirmed_seats, 0)
        raise LimitExceeded(
            f"At most {max_seats_per_user} seats per user on this event; you can book {left} more"
        )
    booking, is_key_written = booking_table.write_booking(
        session,
        user_id=claims.user_id,
        event_id=event_id,
        seats=seats,
        idempotency_key=idempotency_key,
        request_hash=digest if idempotency_key else None,
    )
    if not is_key_written:
        # The key was claimed meanwhile by a request for another event: undo ours.
        session.rollback()
        prior = booking_table.find_prior_request(
            session, user_id=claims.user_id, idempotency_key=idempotency_key or ""
        )
        assert prior is not None
        return _replay(session, prior, digest), False
    session.commit()
    logger.append_keys(booking_id=booking.id)
    count("BookingsMade")
    count("SeatsBooked", seats)
    return booking, True


def _refuse(
    session: Session,
    *,
    claims: TokenClaims,
    event_id: int,
    seats: int,
    idempotency_key: str | None,
    digest: str,
    now: datetime,
) -> Booking | None:
    """The guarded UPDATE matched nothing: raise why. Returns the original booking
    for a retry under a used Idempotency-Key, None when the seats are back."""
    facts = event_table.read_refusal_facts(
        session, event_id=event_id, user_id=claims.user_id, now=now
    )
    if (
        facts.user_token_version is None
        or facts.user_token_version != claims.token_version
    ):
        raise InvalidToken()
    if idempotency_key is not None:
        # A retry is answered before any other rule: the event may be sold out by now.
        prior = booking_table.find_prior_request(
            session, user_id=claims.user_id, idempotency_key=idempotency_key
        )
        if prior is not None:
            return _replay(session, prior, digest)
    if not facts.is_event_found:
        raise NotFound("Event not found")
    if not facts.is_event_open:
        raise EventClosed("The event is cancelled or has already started")
    if facts.available_seats < seats:
        count("SoldOutRejections")
        raise SoldOut(f"Only {facts.available_seats} seats left")
    return None


def _visible_booking(session: Session, booking_id: int, user: User) -> Booking:
    booking = booking_table.get_booking(session, booking_id)
    # Someone else's booking is "not found", not "forbidden": no enumeration.
    if booking is None or (booking.user_id != user.id and user.role != "admin"):
        raise NotFound("Booking not found")
    return booking


def get_booking(session: Session, *, booking_id: int, user: User) -> Booking:
    return _visible_booking(session, booking_id, user)


def cancel_booking(
    session: Session, *, booking_id: int, user: User, now: datetime
) -> Booking:
    """Cancel and return the seats in one transaction, under the event's lock."""
    logger.append_keys(booking_id=booking_id)
    booking = _visible_booking(session, booking_id, user)
    # Event first, then booking: the same lock order as booking and event cancellation.
    event = event_table.lock_event(session, booking.event_id)
    booking = booking_table.lock_booking(session, booking_id) or booking
    if booking.status == "cancelled":
        raise AlreadyCancelled()
    assert event is not None  # a booking's event row is never deleted
    if event.event_date <= now:
        raise EventClosed("The event has already started")
    booking_table.cancel_booking_returning_seats(session, booking, now=now)
    session.commit()
    count("BookingsCancelled")
    return booking


def list_my_bookings(
    session: Session, *, user: User, limit: int, offset: int
) -> tuple[list[Booking], int]:
    return booking_table.list_user_bookings(
        session, user.id, limit=limit, offset=offset
    )


def list_event_bookings(
    session: Session, *, event_id: int, limit: int, offset: int
) -> tuple[list[Booking], int]:
    if event_table.get_event(session, event_id) is None:
        raise NotFound("Event not found")
    return booking_table.list_event_bookings(
        session, event_id, limit=limit, offset=offset
    )
