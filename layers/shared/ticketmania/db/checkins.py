"""Data access for checkins: a ticket admitted at the door, once per booking.

A check-in is one statement, as a booking is: it checks the caller (the
token's version, the role, read from the database), share-locks the booking
row (so a cancellation in flight finishes first, and one that follows waits
for it), then inserts the check-in, whose primary key is the booking's: of any
number of scanners reading one code at the same moment, one insert wins and
the others find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from ticketmania.db.statements import run_alone

CHECK_IN = """
    WITH door AS (
      -- The caller, as the database has them now: the token's version current,
      -- and door staff or an admin (never the token's say).
      SELECT token_version = :token_version AS is_token_current,
             role IN ('admin', 'staff') AS may_check_in
      FROM users WHERE id = :staff_id
    ), target AS (
      SELECT b.id, b.event_id, b.seats_booked, b.status, u.name AS holder
      FROM bookings AS b JOIN users AS u ON u.id = b.user_id
      WHERE b.id = :booking_id
      FOR SHARE OF b
    ), event AS (
      SELECT id, cancelled_at IS NOT NULL AS is_cancelled FROM events
      WHERE id = (SELECT event_id FROM target)
    ), admitted AS (
      INSERT INTO checkins (booking_id, event_id, seats, checked_in_by)
      SELECT id, event_id, seats_booked, :staff_id FROM target
      WHERE status = 'confirmed' AND event_id = :event_id AND seats_booked = :seats
        AND NOT (SELECT is_cancelled FROM event)
        AND (SELECT is_token_current AND may_check_in FROM door)
      ON CONFLICT (booking_id) DO NOTHING
      RETURNING checked_in_at
    )
    SELECT coalesce((SELECT is_token_current FROM door), false),
           coalesce((SELECT may_check_in FROM door), false),
           target.id, target.event_id, target.seats_booked, target.status,
           target.holder, (SELECT is_cancelled FROM event),
           (SELECT checked_in_at FROM admitted)
    FROM (SELECT 1) AS one LEFT JOIN target ON true
"""


@dataclass(frozen=True)
class Admission:
    """What a check-in found, and whether it admitted the ticket."""

    # The caller's token is still current (not revoked by a password change).
    is_token_current: bool
    # The caller is door staff or an admin.
    may_check_in: bool
    is_booking_found: bool
    event_id: int | None
    seats: int | None
    status: str | None
    holder: str | None
    is_event_cancelled: bool
    # When it was admitted now; None: not now (already, or refused).
    checked_in_at: datetime | None


def check_in(
    session: Session,
    *,
    booking_id: int,
    event_id: int,
    seats: int,
    staff_id: int,
    token_version: int,
) -> Admission:
    """Admit a confirmed booking of an event not cancelled, once, for a caller
    who is door staff or an admin with a current token. One statement, its own
    transaction (`run_alone`: the session must hold no connection)."""
    (
        (
            is_current,
            may_check_in,
            found,
            event,
            booked,
            status,
            holder,
            is_cancelled,
            at,
        ),
    ) = run_alone(
        session,
        CHECK_IN,
        {
            "booking_id": booking_id,
            "event_id": event_id,
            "seats": seats,
            "staff_id": staff_id,
            "token_version": token_version,
        },
    )
    return Admission(
        is_token_current=bool(is_current),
        may_check_in=bool(may_check_in),
        is_booking_found=found is not None,
        event_id=event,
        seats=booked,
        status=status,
        holder=holder,
        is_event_cancelled=bool(is_cancelled),
        checked_in_at=at,
    )


_FIRST = text("SELECT checked_in_at FROM checkins WHERE booking_id = :booking_id")


def first_check_in(session: Session, booking_id: int) -> datetime | None:
    at: datetime | None = session.scalar(_FIRST, {"booking_id": booking_id})
    return at


@dataclass(frozen=True)
class TypeCounts:
    ticket_type_id: int
    name: str
    confirmed_seats: int
    checked_in_seats: int


@dataclass(frozen=True)
class DoorCounts:
    confirmed_seats: int
    checked_in_seats: int
    bookings_checked_in: int
    by_type: list[TypeCounts]


_COUNTS = text(
    """
    SELECT (SELECT coalesce(sum(seats_booked), 0) FROM bookings
            WHERE event_id = :event_id AND status = 'confirmed'),
           (SELECT coalesce(sum(seats), 0) FROM checkins WHERE event_id = :event_id),
           (SELECT count(*) FROM checkins WHERE event_id = :event_id)
    """
)


# A booking checks in whole: each of its lines' quantities counts as in. A
# booking with no line (made before types) counts as the default type's.
_COUNTS_BY_TYPE = text(
    """
    WITH lines AS (
      SELECT b.id, b.status, coalesce(l.ticket_type_id, d.id) AS ticket_type_id,
             coalesce(l.quantity, b.seats_booked) AS quantity
      FROM bookings AS b
      LEFT JOIN order_lines AS l ON l.booking_id = b.id
      LEFT JOIN ticket_types AS d ON d.event_id = b.event_id AND d.is_default
                                 AND d.deleted_at IS NULL AND l.booking_id IS NULL
      WHERE b.event_id = :event_id AND b.status = 'confirmed'
    )
    SELECT t.id, t.name,
           coalesce(sum(lines.quantity), 0),
           coalesce(sum(lines.quantity) FILTER (WHERE c.booking_id IS NOT NULL), 0)
    FROM ticket_types AS t
    LEFT JOIN lines ON lines.ticket_type_id = t.id
    LEFT JOIN checkins AS c ON c.booking_id = lines.id
    WHERE t.event_id = :event_id AND (t.deleted_at IS NULL OR lines.id IS NOT NULL)
    GROUP BY t.id, t.name, t.position
    ORDER BY t.position, t.id
    """
)


def door_counts(session: Session, event_id: int) -> DoorCounts:
    confirmed, checked_in, bookings = session.execute(
        _COUNTS, {"event_id": event_id}
    ).one()
    by_type = [
        TypeCounts(int(row[0]), str(row[1]), int(row[2]), int(row[3]))
        for row in session.execute(_COUNTS_BY_TYPE, {"event_id": event_id})
    ]
    return DoorCounts(
        confirmed_seats=int(confirmed),
        checked_in_seats=int(checked_in),
        bookings_checked_in=int(bookings),
        by_type=by_type,
    )
