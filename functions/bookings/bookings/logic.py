"""Booking rules as plain functions, handed a session, the caller and a clock.

The booking transaction, in order (every statement after the first runs
under the event row's lock; nothing but Postgres is called while it is held):

1. lock the event row (SELECT ... FOR UPDATE), reading the booker's token
   version in the same statement;
2. read the booker's confirmed seats on the event and any earlier use of the
   Idempotency-Key (one statement);
3. take the seats and write the booking, the key and the outbox message
   (one statement), then commit.

Why FOR UPDATE and not one guarded `UPDATE ... WHERE available_seats >= n`:
both hold the same lock from their first statement to the commit and take
the same number of round trips, because the per-user cap and the key must
be read after the lock either way; the benchmark (BENCHMARKS.md) measured
them within noise of each other under contention, and FOR UPDATE tells
exactly why a booking is refused (sold out, closed, unknown) without a
second query on the failure path.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania.db import bookings, events
from ticketmania.db.models import Booking, Event, User
from ticketmania.errors import (
    AlreadyCancelled,
    EventClosed,
    IdempotencyMismatch,
    InvalidToken,
    LimitExceeded,
    NotFound,
    SoldOut,
)
from ticketmania.observability import count
from ticketmania.security import TokenClaims


def request_hash(*, event_id: int, seats_booked: int) -> str:
    canonical = json.dumps(
        {"event_id": event_id, "seats_booked": seats_booked}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(session: Session, prior: bookings.PriorRequest, digest: str) -> Booking:
    if prior.request_hash != digest:
        raise IdempotencyMismatch()
    booking = bookings.get_booking(session, prior.booking_id)
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
    digest = request_hash(event_id=event_id, seats_booked=seats)
    locked = events.lock_event_for_booking(
        session, event_id=event_id, user_id=claims.user_id
    )
    if locked is None:
        _check_token(session, claims)
        raise NotFound("Event not found")
    if (
        locked.user_token_version is None
        or locked.user_token_version != claims.token_version
    ):
        raise InvalidToken()
    state = bookings.read_user_event_state(
        session,
        user_id=claims.user_id,
        event_id=event_id,
        idempotency_key=idempotency_key,
    )
    if state.prior_request is not None:
        return _replay(session, state.prior_request, digest), False
    event = locked.event
    if event.cancelled_at is not None or event.event_date <= now:
        raise EventClosed("The event is cancelled or has already started")
    if state.confirmed_seats + seats > max_seats_per_user:
        left = max(max_seats_per_user - state.confirmed_seats, 0)
        raise LimitExceeded(
            f"At most {max_seats_per_user} seats per user on this event; you can book {left} more"
        )
    if event.available_seats < seats:
        count("SoldOutRejections")
        raise SoldOut(f"Only {event.available_seats} seats left")
    booking, is_key_written = bookings.write_booking(
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
        prior = bookings.find_prior_request(
            session, user_id=claims.user_id, idempotency_key=idempotency_key or ""
        )
        assert prior is not None
        return _replay(session, prior, digest), False
    session.commit()
    count("BookingsMade")
    count("SeatsBooked", seats)
    return booking, True


def _check_token(session: Session, claims: TokenClaims) -> None:
    user = session.get(User, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise InvalidToken()


def _visible_booking(session: Session, booking_id: int, user: User) -> Booking:
    booking = bookings.get_booking(session, booking_id)
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
    booking = _visible_booking(session, booking_id, user)
    # Event first, then booking: the same lock order as booking and event cancellation.
    locked = events.lock_event_for_booking(
        session, event_id=booking.event_id, user_id=user.id
    )
    booking = bookings.lock_booking(session, booking_id) or booking
    if booking.status == "cancelled":
        raise AlreadyCancelled()
    assert locked is not None  # a booking's event row is never deleted
    if locked.event.event_date <= now:
        raise EventClosed("The event has already started")
    bookings.cancel_booking_returning_seats(session, booking, now=now)
    session.commit()
    count("BookingsCancelled")
    return booking


def list_my_bookings(
    session: Session, *, user: User, limit: int, offset: int
) -> tuple[list[Booking], int]:
    return bookings.list_user_bookings(session, user.id, limit=limit, offset=offset)


def list_event_bookings(
    session: Session, *, event_id: int, limit: int, offset: int
) -> tuple[list[Booking], int]:
    if session.get(Event, event_id) is None:
        raise NotFound("Event not found")
    return bookings.list_event_bookings(session, event_id, limit=limit, offset=offset)
