"""Data access for holds: bookings with status `held` and an `expires_at`.

A hold takes its seats from the shards as a booking does (db/bookings.py). It
is confirmed, extended or released in one statement each; none of them
touches a shard, but releasing (db/bookings.cancel_booking). A hold that has
ended reads `expired` from `expires_at` on, whatever its row says; settling it
(`settle_ended`: the row marked `expired`, its seats and the user's count
given back) runs with the event's shards locked (ticketmania/seat_release.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from ticketmania.db import outbox
from ticketmania.db.statements import run_alone

CONFIRM_HOLD = """
    WITH confirmed AS (
      UPDATE bookings AS b SET status = 'confirmed', expires_at = NULL
      FROM events AS e
      WHERE b.id = :booking_id AND b.status = 'held' AND b.expires_at > :now
        AND b.total_minor = 0  -- a priced order is confirmed by its payment alone
        AND e.id = b.event_id AND e.cancelled_at IS NULL AND e.event_date > :now
      RETURNING b.id, b.user_id, b.event_id, b.seats_booked
    ), accepted AS (
      UPDATE waitlist_entries SET status = 'accepted', updated_at = now()
      WHERE booking_id = :booking_id AND status = 'offered'
        AND EXISTS (SELECT 1 FROM confirmed)
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id',
        user_id, 'event_id', event_id, 'seats_booked', seats_booked)
      FROM confirmed
    )
    SELECT count(*) FROM confirmed
"""


def confirm(session: Session, booking_id: int, *, now: datetime) -> bool:
    """Held → confirmed, before its end, for an open event; its confirmation
    e-mail written; an offer's entry accepted. One statement, its own
    transaction (`run_alone`: the session must hold no connection). False:
    nothing changed."""
    ((confirmed,),) = run_alone(
        session,
        CONFIRM_HOLD,
        {"booking_id": booking_id, "now": now, "topic": outbox.BOOKING_CONFIRMED},
    )
    return bool(confirmed == 1)


_EXTEND = text(
    """
    UPDATE bookings AS b
    SET expires_at = least(
      CAST(:now AS timestamptz) + make_interval(secs => CAST(:extension AS double precision)),
      b.created_at + make_interval(secs => CAST(:longest AS double precision)))
    WHERE b.id = :booking_id AND b.status = 'held' AND b.expires_at > :now
      AND b.expires_at < b.created_at + make_interval(secs => CAST(:longest AS double precision))
      AND NOT EXISTS (SELECT 1 FROM waitlist_entries AS w WHERE w.booking_id = b.id)
      AND EXISTS (SELECT 1 FROM events AS e WHERE e.id = b.event_id
                  AND e.cancelled_at IS NULL AND e.event_date > :now)
    RETURNING b.expires_at
    """
)


def extend(
    session: Session,
    booking_id: int,
    *,
    now: datetime,
    extension_seconds: int,
    longest_seconds: int,
) -> datetime | None:
    """Move a live hold's end to `now + extension`, never past its creation +
    `longest`; the new end, or None when it could not move (ended, already at
    its longest, an offer, not a hold)."""
    new_end: datetime | None = session.scalar(
        _EXTEND,
        {
            "booking_id": booking_id,
            "now": now,
            "extension": extension_seconds,
            "longest": longest_seconds,
        },
    )
    return new_end


@dataclass(frozen=True)
class EndedHold:
    booking_id: int
    seats: int


_SETTLE_ENDED = text(
    """
    WITH ended AS (
      UPDATE bookings SET status = 'expired'
      WHERE event_id = :event_id AND status = 'held' AND expires_at <= :now
      RETURNING id, user_id, seats_booked
    ), per_user AS (
      SELECT user_id, sum(seats_booked) AS seats FROM ended GROUP BY user_id
    ), allowance AS (
      UPDATE user_event_seats AS u SET seats = u.seats - per_user.seats
      FROM per_user WHERE u.user_id = per_user.user_id AND u.event_id = :event_id
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id',
        user_id, 'event_id', CAST(:event_id AS bigint), 'seats_booked', seats_booked)
      FROM ended
    )
    SELECT id, seats_booked FROM ended ORDER BY id
    """
)


def settle_ended(session: Session, event_id: int, *, now: datetime) -> list[EndedHold]:
    """Mark the event's ended holds `expired`, take their seats off their
    users' counts and write each its "your hold expired" message. The seats
    themselves go back to the shards with the caller, which holds them locked."""
    rows = session.execute(
        _SETTLE_ENDED,
        {"event_id": event_id, "now": now, "topic": outbox.HOLD_EXPIRED},
    ).all()
    return [EndedHold(booking_id=row[0], seats=int(row[1])) for row in rows]


_RELEASE = text(
    """
    WITH released AS (
      UPDATE bookings SET status = 'cancelled', cancelled_at = :now
      WHERE id = :booking_id AND status = 'held'
      RETURNING user_id, event_id, seats_booked
    ), allowance AS (
      UPDATE user_event_seats AS u SET seats = u.seats - released.seats_booked
      FROM released
      WHERE u.user_id = released.user_id AND u.event_id = released.event_id
    )
    SELECT coalesce(sum(seats_booked), 0) FROM released
    """
)


def release(session: Session, booking_id: int, *, now: datetime) -> int:
    """Cancel a hold (an offer declined) and take its seats off the user's
    count; the seats released (0 when it was no longer held). The seats go
    back to the shards with the caller, which holds them locked."""
    return int(session.scalar(_RELEASE, {"booking_id": booking_id, "now": now}) or 0)


_HAS_ENDED = text(
    """
    SELECT EXISTS (SELECT 1 FROM bookings WHERE event_id = :event_id
                   AND status = 'held' AND expires_at <= :now)
    """
)


def has_ended(session: Session, event_id: int, *, now: datetime) -> bool:
    """The event has holds that ended and are not settled yet."""
    return bool(session.scalar(_HAS_ENDED, {"event_id": event_id, "now": now}))


_HOLD_FOR_OFFER = text(
    """
    WITH kind AS (
      SELECT t.id, t.price_minor, e.currency FROM ticket_types AS t
      JOIN events AS e ON e.id = t.event_id WHERE t.id = :ticket_type_id
    ), hold AS (
      INSERT INTO bookings (user_id, event_id, seats_booked, status, expires_at,
                            ticket_type_id, unit_price_minor, total_minor, currency)
      SELECT :user_id, :event_id, :seats, 'held', :expires_at,
             kind.id, kind.price_minor, kind.price_minor * :seats, kind.currency
      FROM kind
      RETURNING id, user_id, event_id, seats_booked
    ), takes AS (
      INSERT INTO booking_quota_takes (booking_id, ticket_type_id, quota_id, seats)
      SELECT hold.id, CAST(:ticket_type_id AS bigint), quota_id, hold.seats_booked
      FROM hold, unnest(CAST(:quota_ids AS bigint[])) AS quota_id
    ), allowance AS (
      INSERT INTO user_event_seats AS u (user_id, event_id, seats)
      SELECT user_id, event_id, seats_booked FROM hold
      ON CONFLICT (user_id, event_id) DO UPDATE SET seats = u.seats + EXCLUDED.seats
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id',
        user_id, 'event_id', event_id, 'seats_booked', seats_booked)
      FROM hold
    )
    SELECT id FROM hold
    """
)


def hold_for_offer(
    session: Session,
    *,
    user_id: int,
    event_id: int,
    seats: int,
    expires_at: datetime,
    ticket_type_id: int,
    quota_ids: list[int],
) -> int:
    """A hold of `seats` of the type in a waiting user's name, at its price
    now, counted against their cap, with its "seats are held for you"
    message; its id. The seats come off the event's and `quota_ids`' shards
    with the caller, which holds them locked; what it took from each quota
    is recorded here."""
    booking_id = session.scalar(
        _HOLD_FOR_OFFER,
        {
            "user_id": user_id,
            "event_id": event_id,
            "seats": seats,
            "expires_at": expires_at,
            "ticket_type_id": ticket_type_id,
            "quota_ids": quota_ids,
            "topic": outbox.WAITLIST_OFFERED,
        },
    )
    assert booking_id is not None  # an INSERT ... RETURNING of one row
    return int(booking_id)


_EVENTS_TO_SETTLE = text(
    """
    SELECT event_id FROM bookings
    WHERE status = 'held' AND expires_at <= :now
    UNION
    -- The first waiting entry of a line whose event has the seats it asks for
    -- (an offer a crash kept from being made).
    SELECT w.event_id FROM waitlist_entries AS w
    WHERE w.status = 'waiting'
      AND w.id = (SELECT min(x.id) FROM waitlist_entries AS x
                  WHERE x.event_id = w.event_id AND x.status = 'waiting')
      AND w.seats <= (SELECT coalesce(sum(available), 0) FROM seat_shards AS s
                      WHERE s.event_id = w.event_id)
    ORDER BY 1
    """
)


def events_to_settle(session: Session, *, now: datetime) -> list[int]:
    """Events with ended holds to settle, or whose line's first waiting entry
    has the seats it asks for."""
    return [int(row[0]) for row in session.execute(_EVENTS_TO_SETTLE, {"now": now})]


_NEXT_END = text(
    "SELECT min(expires_at) FROM bookings WHERE status = 'held' AND expires_at > :now"
)


def next_end(session: Session, *, now: datetime) -> datetime | None:
    """When the next live hold, of any event, ends."""
    end: datetime | None = session.scalar(_NEXT_END, {"now": now})
    return end
