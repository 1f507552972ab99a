"""Booking rules as plain functions, handed a session, a cache, the caller and a clock.

A booking is one statement (ticketmania/db/bookings.py) that is its own
transaction: it takes the seats from the event's shards, counts them against
the user's cap, checks the token's version and the Idempotency-Key, and writes
the booking, the key and the outbox message, or writes nothing. When it
books nothing, the facts it read in the same snapshot say why:

1. no free shard had the seats, but the event has them (held by bookings in
   flight): the waiting statement takes them shard by shard, in order;
2. a retry under a used Idempotency-Key gets the original booking;
3. otherwise: a revoked token, an unknown or closed event, the cap, or sold out.

A sold-out event is marked in Redis (ticketmania/sold_out.py), and later
refusals are answered from the marker without touching Postgres.

The other use cases own their transactions: they commit on success, and what
they leave uncommitted is rolled back when the session closes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ticketmania import seat_release, sold_out, ticket_types
from ticketmania.admission import admit_booking
from ticketmania.booking_access import visible_booking
from ticketmania.cache import Cache
from ticketmania.db import bookings as booking_table
from ticketmania.db import events as event_table
from ticketmania.db import orders as order_table
from ticketmania.db import ticket_types as ticket_type_table
from ticketmania.db.models import Booking, User
from ticketmania.errors import (
    AdmissionRequired,
    AdmissionUsed,
    AlreadyCancelled,
    EventClosed,
    HoldExpired,
    IdempotencyMismatch,
    InvalidToken,
    LimitExceeded,
    NotFound,
    NotOnSale,
    SoldOut,
)
from ticketmania.observability import count, logger
from ticketmania.rate_limits import Allowance, RateLimit
from ticketmania.security import TokenClaims
from ticketmania.waiting_room import tokens as admission_tokens


def request_hash(*, event_id: int, seats_booked: int, hold: bool = False) -> str:
    body: dict[str, object] = {"event_id": event_id, "seats_booked": seats_booked}
    if hold:  # a plain booking hashes as it always has: its keys stay valid
        body["hold"] = True
    canonical = json.dumps(body, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(original: Booking, original_hash: str | None, digest: str) -> Booking:
    if original_hash != digest:
        raise IdempotencyMismatch()
    return original


def _sold_out(seats_left: int) -> SoldOut:
    count("SoldOutRejections")
    return SoldOut(f"Only {seats_left} seats left")


@dataclass(frozen=True)
class BookingOutcome:
    booking: Booking
    # False: a retry under the same Idempotency-Key, answered with the original.
    is_new: bool
    # What is left of the user's booking rate (None: it could not be counted).
    allowance: Allowance | None
    # A new order's lines as it took them (None: read them from the database).
    lines: tuple[order_table.Line, ...] | None = None


def book_seats(
    session: Session,
    cache: Cache,
    *,
    claims: TokenClaims,
    event_id: int,
    seats: int,
    idempotency_key: str | None,
    max_seats_per_user: int,
    booking_rate: RateLimit,
    hold: bool = False,
    hold_seconds: int,
    offer_seconds: int,
    now: datetime,
    admission_token: str | None = None,
) -> BookingOutcome:
    """Book (or, with `hold`, hold for `hold_seconds`) seats of the event's
    default ticket type for the token's user, or answer a retry with the
    original: a one-line order (`place_order`)."""
    return place_order(
        session,
        cache,
        claims=claims,
        event_id=event_id,
        lines=[order_table.OrderLine(ticket_type_id=DEFAULT_TYPE, quantity=seats)],
        digest=request_hash(event_id=event_id, seats_booked=seats, hold=hold),
        idempotency_key=idempotency_key,
        max_seats_per_user=max_seats_per_user,
        booking_rate=booking_rate,
        hold=hold,
        hold_seconds=hold_seconds,
        offer_seconds=offer_seconds,
        now=now,
        admission_token=admission_token,
    )


# A line's ticket_type_id meaning "the event's default type" (POST /bookings).
DEFAULT_TYPE = 0


def order_request_hash(
    *, event_id: int, lines: list[order_table.OrderLine], hold: bool
) -> str:
    body = {
        "event_id": event_id,
        "lines": [[line.ticket_type_id, line.quantity] for line in lines],
        "hold": hold,
    }
    canonical = json.dumps(body, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def place_order(
    session: Session,
    cache: Cache,
    *,
    claims: TokenClaims,
    event_id: int,
    lines: list[order_table.OrderLine],
    digest: str,
    idempotency_key: str | None,
    max_seats_per_user: int,
    booking_rate: RateLimit,
    hold: bool,
    hold_seconds: int,
    offer_seconds: int,
    now: datetime,
    admission_token: str | None = None,
) -> BookingOutcome:
    """Order the lines (all of them or none) for the token's user, or answer a
    retry under the same Idempotency-Key with the original.

    A one-line order of a type no quota but the event's counts is the booking
    statement (db/bookings.py); anything else, or when that statement says
    the type is not one it sells, the order statement (db/orders.py)."""
    logger.append_keys(event_id=event_id)
    seats = sum(line.quantity for line in lines)
    # First: a revoked token or a user past their rate goes no further.
    admission = admit_booking(
        session, cache, claims=claims, event_id=event_id, limit=booking_rate
    )

    def outcome(
        booking: Booking,
        *,
        is_new: bool,
        lines: tuple[order_table.Line, ...] | None = None,
    ) -> BookingOutcome:
        return BookingOutcome(
            booking=booking, is_new=is_new, allowance=admission.allowance, lines=lines
        )

    # A waiting room's admission, verified here (its signature, event, user and
    # expiry); whether the event needs one, and its one use, are the statement's.
    queue_admission = None
    if admission_token is not None:
        verified = admission_tokens.verify(
            admission_token, event_id=event_id, user_id=claims.user_id
        )
        queue_admission = booking_table.QueueAdmission(
            jti=verified.jti, position=verified.position
        )
    if admission.marker.is_sold_out:
        # A retry is answered before any other rule: the original stands.
        prior = _find_prior(session, claims, idempotency_key)
        if prior is not None:
            return outcome(
                _replay(prior.booking, prior.request_hash, digest), is_new=False
            )
        raise _sold_out(0)

    common: dict[str, Any] = {
        "user_id": claims.user_id,
        "token_version": claims.token_version,
        "event_id": event_id,
        "max_seats_per_user": max_seats_per_user,
        "idempotency_key": idempotency_key,
        "request_hash": digest if idempotency_key else None,
        "now": now,
        "hold": hold,
        "hold_seconds": hold_seconds,
        "admission": queue_admission,
    }
    # The booking statement for POST /bookings (the default type, quota-free
    # unless an admin put it in one); the order statement for POST /orders,
    # whose types quotas usually count (trying the booking statement first
    # cost those a second round trip), and once the booking statement said
    # the type is not one it sells.
    is_one_plain_line = len(lines) == 1 and lines[0].ticket_type_id == DEFAULT_TYPE
    general = [line for line in lines if line.ticket_type_id != DEFAULT_TYPE]
    short_line: int | None = None
    placed_lines: tuple[order_table.Line, ...] | None = None

    def attempt(*, wait: bool) -> booking_table.BookingAttempt:
        nonlocal is_one_plain_line, general, short_line, placed_lines
        if is_one_plain_line:
            chosen = lines[0].ticket_type_id
            tried = booking_table.book(
                session,
                wait=wait,
                seats=seats,
                ticket_type_id=None if chosen == DEFAULT_TYPE else chosen,
                **common,
            )
            if not _is_for_the_order_statement(tried):
                return tried
            is_one_plain_line = False
            if not general:  # the default type, counted by a quota (or gone)
                general = [_default_line(session, event_id, seats)]
                session.rollback()  # the order runs alone, on a connection of its own
        placed = order_table.place(session, wait=wait, lines=general, **common)
        short_line = placed.short_line
        placed_lines = tuple(
            order_table.Line(line.ticket_type_id, line.quantity, price)
            for line, price in zip(general, placed.line_prices, strict=False)
        )
        return placed.booking

    def attempt_both() -> booking_table.BookingAttempt:
        result = attempt(wait=False)
        if result.may_wait(seats) and short_line is None:
            result = attempt(wait=True)
        return result

    result = attempt_both()
    # An admin write to the event (a type deleted, a resize) committed after
    # the statement's snapshot: nothing was written; ask again. Admin writes
    # of an event run one at a time, so a few tries see one snapshot through.
    for _ in range(_TRIES_WHILE_THE_EVENT_CHANGES):
        if not result.is_event_changed_meanwhile:
            break
        result = attempt_both()
    if _has_ended_holds_to_take(result, seats):
        # Seats of holds that ended are free from their end on, settled or not:
        # settle them now (no job needs to have run), then try again.
        seat_release.settle(session, event_id, now=now, offer_seconds=offer_seconds)
        session.commit()
        result = attempt_both()
    if result.booking is not None:
        logger.append_keys(booking_id=result.booking.id)
        count("BookingsMade")
        count("SeatsBooked", seats)
        return outcome(result.booking, is_new=True, lines=placed_lines or None)
    if not result.is_token_current:  # revoked since it was admitted
        raise InvalidToken()
    if result.prior is not None:
        return outcome(
            _replay(result.prior, result.prior_request_hash, digest), is_new=False
        )
    # A request under the same key may have committed while this one ran: it
    # held the seats or the allowance this one waited for, or took the key
    # first. Its booking is the answer, not this one's refusal; read in a
    # statement of its own, as this one's snapshot began before that commit.
    prior = _find_prior(session, claims, idempotency_key)
    if prior is not None:
        return outcome(_replay(prior.booking, prior.request_hash, digest), is_new=False)
    if result.is_key_taken:  # keys are never deleted while their booking stands
        raise AssertionError("an Idempotency-Key was taken by a booking that is gone")
    if not result.is_event_found:
        raise NotFound("Event not found")
    if result.is_admission_used:
        raise AdmissionUsed()
    if result.is_admission_missing:
        raise AdmissionRequired()
    if not result.is_event_open:
        raise EventClosed("The event is cancelled or has already started")
    if not result.is_plain_type:
        # A line's type is not on sale now (or gone): say which.
        ticket_types.refuse_unsellable(session, event_id, general or lines, now=now)
    if result.is_waitlisted:
        # While anyone waits, the free seats are the line's (offered in order).
        _mark_if_none_left(cache, event_id, result, admission.marker.generation, now)
        count("SoldOutRejections")
        raise SoldOut("The seats that are left go to the waitlist, in order")
    if result.has_seats and not result.is_event_open_now:
        raise EventClosed("The event is cancelled or has already started")
    if result.has_seats:  # held, then refused by the cap
        left = max(max_seats_per_user - result.user_seats, 0)
        raise LimitExceeded(
            f"At most {max_seats_per_user} seats per user on this event; you can book {left} more"
        )
    if short_line is not None and result.seats_left >= seats:
        count("SoldOutRejections")
        short = (general or lines)[short_line - 1]
        raise ticket_types.sold_out_of(session, short.ticket_type_id)
    _mark_if_none_left(cache, event_id, result, admission.marker.generation, now)
    raise _sold_out(result.seats_left)


_TRIES_WHILE_THE_EVENT_CHANGES = 3


def _is_for_the_order_statement(result: booking_table.BookingAttempt) -> bool:
    """The booking statement booked nothing because the type is not one it
    sells, and nothing else (a retry, a revoked token) decides the answer."""
    return (
        not result.is_plain_type
        and result.booking is None
        and result.prior is None
        and result.is_token_current
        and not result.is_key_taken
    )


def _default_line(session: Session, event_id: int, seats: int) -> order_table.OrderLine:
    default = ticket_type_table.default_of(session, event_id)
    if default is None:
        if event_table.get_event(session, event_id) is None:
            raise NotFound("Event not found")
        raise NotOnSale("The event sells only its ticket types: POST /orders")
    return order_table.OrderLine(ticket_type_id=default.id, quantity=seats)


def _has_ended_holds_to_take(result: booking_table.BookingAttempt, seats: int) -> bool:
    """Refused for want of seats, while the event has ended holds to settle."""
    return (
        result.booking is None
        and result.prior is None
        and not result.is_key_taken
        and result.is_token_current
        and result.is_event_open
        and not result.is_waitlisted
        and not result.has_seats
        and result.has_ended_holds
    )


def _mark_if_none_left(
    cache: Cache,
    event_id: int,
    result: booking_table.BookingAttempt,
    generation: str,
    now: datetime,
) -> None:
    """No seat left: later refusals come from the marker, until the next hold
    ends (its seats are free from then on) or MARKER_SECONDS, whichever is first."""
    if result.seats_left != 0 or result.has_ended_holds:
        return
    seconds = float(sold_out.MARKER_SECONDS)
    if result.next_hold_end is not None:
        seconds = min(seconds, (result.next_hold_end - now).total_seconds())
    sold_out.mark_sold_out(cache, event_id, generation=generation, seconds=seconds)


def _find_prior(
    session: Session, claims: TokenClaims, idempotency_key: str | None
) -> booking_table.PriorRequest | None:
    if idempotency_key is None:
        return None
    return booking_table.find_prior_request(
        session, user_id=claims.user_id, idempotency_key=idempotency_key
    )


def get_booking(session: Session, *, booking_id: int, user: User) -> Booking:
    return visible_booking(session, booking_id, user)


def cancel_booking(
    session: Session,
    cache: Cache,
    *,
    booking_id: int,
    user: User,
    now: datetime,
    offer_seconds: int,
) -> Booking:
    """Cancel a booking or release a hold, giving the seats back in one
    statement that locks one shard; to the event's line, in order, if anyone
    waits."""
    logger.append_keys(booking_id=booking_id)
    booking = visible_booking(session, booking_id, user)
    event_id = booking.event_id
    # The reads are done: end their transaction, so the cancellation runs alone
    # (and commits itself) on a connection of its own.
    session.rollback()
    cancellation = booking_table.cancel_booking(session, booking_id, now=now)
    if cancellation.is_cancelled and cancellation.has_waiting:
        # The seats are the line's: offered now (the expire-holds job would
        # make the offers too, were this to fail after the cancellation).
        seat_release.settle(session, event_id, now=now, offer_seconds=offer_seconds)
        session.commit()
    elif cancellation.is_cancelled:
        # First, before any read that could fail: the seats are back for sale.
        sold_out.seats_given_back(cache, event_id)
    session.refresh(booking)
    if not cancellation.is_cancelled:
        if booking.status == "cancelled":
            raise AlreadyCancelled()
        if booking.status == "expired" or (
            booking.status == "held" and is_ended(booking, now)
        ):
            raise HoldExpired()
        raise EventClosed("The event has already started")
    count("HoldsReleased" if cancellation.was_held else "BookingsCancelled")
    return booking


def is_ended(booking: Booking, now: datetime) -> bool:
    """A hold past its end: it reads `expired` from then on."""
    return booking.expires_at is not None and booking.expires_at <= now


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
