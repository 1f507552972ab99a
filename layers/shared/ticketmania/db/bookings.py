"""Data access for the bookings table. Rows are never deleted: only their status changes.

The booking and cancellation writes are single statements that also touch
idempotency_keys and outbox (and, for a cancellation, events): they run while
the event row is locked, and every round trip saved there is time other
buyers of the same event do not wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ticketmania.db import outbox, paging
from ticketmania.db.models import Booking


@dataclass(frozen=True)
class PriorRequest:
    """An earlier request under the same Idempotency-Key."""

    booking_id: int
    request_hash: str


@dataclass(frozen=True)
class UserEventState:
    confirmed_seats: int
    prior_request: PriorRequest | None


def read_user_event_state(
    session: Session, *, user_id: int, event_id: int, idempotency_key: str | None
) -> UserEventState:
    """The user's confirmed seats on the event and any earlier use of the key, in one
    round trip. Run after the event lock is held, so it sees every committed booking."""
    row = session.execute(
        text(
            """
            SELECT
              (SELECT coalesce(sum(seats_booked), 0) FROM bookings
                WHERE user_id = :user_id AND event_id = :event_id AND status = 'confirmed'),
              k.booking_id, k.request_hash
            FROM (SELECT 1) AS one
            LEFT JOIN idempotency_keys AS k ON k.user_id = :user_id AND k.key = :key
            """
        ),
        {"user_id": user_id, "event_id": event_id, "key": idempotency_key},
    ).one()
    prior = (
        PriorRequest(booking_id=row[1], request_hash=row[2])
        if row[1] is not None
        else None
    )
    return UserEventState(confirmed_seats=int(row[0]), prior_request=prior)


def find_prior_request(
    session: Session, *, user_id: int, idempotency_key: str
) -> PriorRequest | None:
    row = session.execute(
        text(
            "SELECT booking_id, request_hash FROM idempotency_keys WHERE user_id = :u AND key = :k"
        ),
        {"u": user_id, "k": idempotency_key},
    ).one_or_none()
    return PriorRequest(booking_id=row[0], request_hash=row[1]) if row else None


_WRITE_BOOKING = text(
    """
    WITH booking AS (
      INSERT INTO bookings (user_id, event_id, seats_booked, status)
      VALUES (:user_id, :event_id, :seats, 'confirmed')
      RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at
    ), key AS (
      INSERT INTO idempotency_keys (user_id, key, request_hash, booking_id)
      SELECT :user_id, CAST(:key AS varchar), :request_hash, id FROM booking
      WHERE CAST(:key AS varchar) IS NOT NULL
      ON CONFLICT (user_id, key) DO NOTHING
      RETURNING 1
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT :topic, jsonb_build_object(
        'booking_id', id, 'user_id', user_id, 'event_id', event_id, 'seats_booked', seats_booked)
      FROM booking
    )
    SELECT booking.*, (SELECT count(*) FROM key) AS key_written FROM booking
    """
)


def write_booking(
    session: Session,
    *,
    user_id: int,
    event_id: int,
    seats: int,
    idempotency_key: str | None,
    request_hash: str | None,
) -> tuple[Booking, bool]:
    """Insert the booking, its idempotency key and its outbox message: one statement,
    run after `events.take_seats` took the seats (and the row lock) in this transaction.

    Returns the booking and False when the key was taken meanwhile (by a request
    for another event): the caller must then roll back.
    """
    row = (
        session.execute(
            _WRITE_BOOKING,
            {
                "user_id": user_id,
                "event_id": event_id,
                "seats": seats,
                "key": idempotency_key,
                "request_hash": request_hash,
                "topic": outbox.BOOKING_CONFIRMED,
            },
        )
        .mappings()
        .one()
    )
    booking = _booking_from(row)
    is_key_written = idempotency_key is None or row["key_written"] == 1
    return booking, is_key_written


def _booking_from(row: Any) -> Booking:
    fields = {
        name: row[name]
        for name in (
            "id",
            "user_id",
            "event_id",
            "seats_booked",
            "status",
            "created_at",
            "cancelled_at",
        )
    }
    return Booking(**fields)


def get_booking(session: Session, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


def lock_booking(session: Session, booking_id: int) -> Booking | None:
    return session.scalar(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


_CANCEL_BOOKING = text(
    """
    WITH cancelled AS (
      UPDATE bookings SET status = 'cancelled', cancelled_at = :now
      WHERE id = :booking_id AND status = 'confirmed'
      RETURNING id, user_id, event_id, seats_booked
    ), returned AS (
      UPDATE events SET available_seats = available_seats + cancelled.seats_booked, updated_at = now()
      FROM cancelled WHERE events.id = cancelled.event_id
      RETURNING events.id
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT :topic, jsonb_build_object(
        'booking_id', id, 'user_id', user_id, 'event_id', event_id, 'seats_booked', seats_booked)
      FROM cancelled
    )
    SELECT count(*) FROM returned
    """
)


def cancel_booking_returning_seats(
    session: Session, booking: Booking, *, now: datetime
) -> None:
    """Status change, seats back to the event and the outbox message: one statement."""
    returned = session.scalar(
        _CANCEL_BOOKING,
        {"booking_id": booking.id, "now": now, "topic": outbox.BOOKING_CANCELLED},
    )
    if returned != 1:
        raise RuntimeError(f"booking {booking.id} was not confirmed under its lock")
    session.refresh(booking)


def list_user_bookings(
    session: Session, user_id: int, *, limit: int, offset: int
) -> tuple[list[Booking], int]:
    """The user's bookings, newest first, and how many there are."""
    return paging.fetch_page(
        session,
        Booking,
        [Booking.user_id == user_id],
        order_by=[Booking.id.desc()],
        limit=limit,
        offset=offset,
    )


def list_event_bookings(
    session: Session, event_id: int, *, limit: int, offset: int
) -> tuple[list[Booking], int]:
    """The event's bookings, newest first, and how many there are."""
    return paging.fetch_page(
        session,
        Booking,
        [Booking.event_id == event_id],
        order_by=[Booking.id.desc()],
        limit=limit,
        offset=offset,
    )
