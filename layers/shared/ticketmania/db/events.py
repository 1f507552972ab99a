"""Data access for the events table. Cancelled events are invisible to every read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, or_, select, text, update
from sqlalchemy.orm import Session

from ticketmania.db import outbox, paging
from ticketmania.db.models import Event

EventSort = Literal["event_date", "-event_date", "title", "-created_at"]

_ORDER: dict[str, tuple[Any, Any]] = {
    "event_date": (Event.event_date.asc(), Event.id.asc()),
    "-event_date": (Event.event_date.desc(), Event.id.desc()),
    "title": (Event.title.asc(), Event.id.asc()),
    "-created_at": (Event.created_at.desc(), Event.id.desc()),
}


@dataclass(frozen=True)
class EventFilter:
    q: str | None = None
    location: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    is_available_only: bool = False
    # With no date_from, only events that have not started yet are listed.
    is_upcoming_only: bool = True


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(where: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Event.cancelled_at.is_(None)]
    if where.q:
        pattern = _contains(where.q)
        conditions.append(
            or_(Event.title.ilike(pattern), Event.description.ilike(pattern))
        )
    if where.location:
        conditions.append(Event.location.ilike(_contains(where.location)))
    if where.date_from is not None:
        conditions.append(Event.event_date >= where.date_from)
    elif where.is_upcoming_only:
        conditions.append(Event.event_date >= func.now())
    if where.date_to is not None:
        conditions.append(Event.event_date <= where.date_to)
    if where.is_available_only:
        conditions.append(Event.available_seats > 0)
    return conditions


def list_query(
    where: EventFilter, *, sort: EventSort, limit: int, offset: int
) -> Select[Any]:
    return paging.page_query(
        Event, _conditions(where), order_by=_ORDER[sort], limit=limit, offset=offset
    )


def list_events(
    session: Session, where: EventFilter, *, sort: EventSort, limit: int, offset: int
) -> tuple[list[Event], int]:
    """One page of active events and the total matching."""
    return paging.fetch_page(
        session,
        Event,
        _conditions(where),
        order_by=_ORDER[sort],
        limit=limit,
        offset=offset,
    )


def get_event(session: Session, event_id: int) -> Event | None:
    """The event, cancelled or not (an admin reads a cancelled event's history)."""
    return session.get(Event, event_id)


def get_active_event(session: Session, event_id: int) -> Event | None:
    return session.scalar(
        select(Event).where(Event.id == event_id, Event.cancelled_at.is_(None))
    )


def lock_active_event(session: Session, event_id: int) -> Event | None:
    """The event row, locked against other admin writes (FOR NO KEY UPDATE, which
    bookings' foreign-key checks do not wait for)."""
    return session.scalar(
        select(Event)
        .where(Event.id == event_id, Event.cancelled_at.is_(None))
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def shard_count_for(total_seats: int) -> int:
    """How many shards hold an event's seats: one per 10 seats, 1 to 64. Enough
    shards that concurrent buyers rarely meet on one (BENCHMARKS.md); few enough
    that small events stay a handful of rows. Migration 0004 uses the same rule."""
    return max(1, min(MAX_SHARDS, total_seats // SEATS_PER_SHARD))


def spread(seats: int, shard_count: int) -> list[int]:
    """`seats` split as evenly as possible over `shard_count` shards."""
    share, rest = divmod(seats, shard_count)
    return [share + (1 if shard < rest else 0) for shard in range(shard_count)]


def take_fullest_first(unsold: list[int], seats: int) -> None:
    """Take `seats` out of `unsold` (one entry per shard) from the fullest
    shards first, which keeps them even."""
    for shard in sorted(range(len(unsold)), key=lambda i: -unsold[i]):
        taken = min(unsold[shard], seats)
        unsold[shard] -= taken
        seats -= taken
        if seats == 0:
            return
    raise ValueError("fewer seats free than taken")


MAX_SHARDS = 64
SEATS_PER_SHARD = 10

_INSERT_EVENT = text(
    """
    WITH event AS (
      INSERT INTO events (title, description, location, event_date, total_seats,
                          shard_count, currency, buyers_cancel_lines)
      VALUES (:title, :description, :location, :event_date, :total_seats,
              :shard_count, :currency, :buyers_cancel_lines)
      RETURNING id, total_seats, shard_count
    ), default_type AS (
      INSERT INTO ticket_types (event_id, name, price_minor, is_default)
      SELECT id, 'Admission', 0, true FROM event
    ), shards AS (
      INSERT INTO seat_shards (event_id, shard, available)
      SELECT event.id, s.shard,
             event.total_seats / event.shard_count
             + (s.shard < mod(event.total_seats, event.shard_count))::int
      FROM event, generate_series(0, event.shard_count - 1) AS s(shard)
    )
    SELECT id FROM event
    """
)


def insert_event(session: Session, **fields: Any) -> Event:
    """The event, its default ticket type and its seat shards, all seats
    unsold: one statement."""
    event_id = session.scalar(
        _INSERT_EVENT,
        {
            "description": None,
            "currency": "EUR",
            "buyers_cancel_lines": False,
            **fields,
            "shard_count": shard_count_for(fields["total_seats"]),
        },
    )
    event = session.get(Event, event_id)
    assert event is not None  # inserted just above, in this transaction
    return event


def update_event(session: Session, event: Event, changes: dict[str, Any]) -> Event:
    session.execute(
        update(Event)
        .where(Event.id == event.id)
        .values(**changes, updated_at=func.now())
    )
    session.refresh(event)
    return event


# Admin writes of one event (an edit, a resize, its cancellation, a seat repair)
# take this lock first, so they run one after another: each then locks every
# shard, the ones the write before it added included. Alone, a second resize
# locked only the shards that existed when it began and rewrote the newer ones
# unlocked (seats lost or invented, and a deadlock with a booking holding one).
# Bookings never take it. Two int keys: a space apart from the jobs' bigint ones.
_ADMIN_WRITE_LOCK_CLASS = 7271
_LOCK_FOR_ADMIN_WRITE = text(
    "SELECT pg_advisory_xact_lock(:lock_class, CAST(mod(:event_id, 2147483647) AS int))"
)


def lock_for_admin_write(session: Session, event_id: int) -> None:
    """Wait for any other admin write of the event to commit; held until this
    transaction ends. Taken before any row lock."""
    session.execute(
        _LOCK_FOR_ADMIN_WRITE,
        {"lock_class": _ADMIN_WRITE_LOCK_CLASS, "event_id": event_id},
    )


_LOCK_SHARDS = text(
    """
    SELECT available FROM seat_shards WHERE event_id = :event_id
    ORDER BY shard FOR UPDATE
    """
)


def lock_seats(session: Session, event_id: int) -> list[int]:
    """Every shard of the event locked, in shard order (the order every multi-shard
    lock takes), after any booking in flight on them has finished. Returns the
    unsold seats of each shard, as they are now."""
    return [
        int(available)
        for available in session.scalars(_LOCK_SHARDS, {"event_id": event_id})
    ]


_SET_SHARDS = text(
    """
    INSERT INTO seat_shards (event_id, shard, available)
    SELECT :event_id, s.shard, (CAST(:available AS int[]))[s.shard + 1]
    FROM generate_series(0, cardinality(CAST(:available AS int[])) - 1) AS s(shard)
    ON CONFLICT (event_id, shard) DO UPDATE SET available = EXCLUDED.available
    """
)


def set_seats(session: Session, event_id: int, available: list[int]) -> None:
    """Rewrite the event's shards with these unsold seats (one entry per shard;
    shards are only ever added). Run with the shards locked (`lock_seats`)."""
    session.execute(_SET_SHARDS, {"event_id": event_id, "available": available})


_CANCEL_WITH_BOOKINGS = text(
    """
    WITH cancelled AS (
      -- Confirmed bookings and holds alike (a hold that ended, too: its seats
      -- were never given back); only the bookings were ever confirmed by e-mail.
      UPDATE bookings SET status = 'cancelled', cancelled_at = :now
      WHERE event_id = :event_id AND status IN ('confirmed', 'held')
      RETURNING id, expires_at IS NULL AS was_confirmed
    ), line AS (
      UPDATE waitlist_entries SET status = 'expired', updated_at = now()
      WHERE event_id = :event_id AND status IN ('waiting', 'offered')
    ), event AS (
      UPDATE events SET cancelled_at = :now, updated_at = now()
      WHERE id = :event_id
      RETURNING id
    ), restored AS (
      UPDATE seat_shards AS s
      SET available = e.total_seats / e.shard_count + (s.shard < mod(e.total_seats, e.shard_count))::int
      FROM events AS e WHERE e.id = s.event_id AND s.event_id = :event_id
    ), quotas_restored AS (
      -- A closed quota stays closed: it never sells again.
      UPDATE quota_shards AS s
      SET available = CASE WHEN s.closed THEN 0
                      ELSE q.size / q.shard_count + (s.shard < mod(q.size, q.shard_count))::int END
      FROM quotas AS q WHERE q.id = s.quota_id AND q.event_id = :event_id
    ), allowances AS (
      UPDATE user_event_seats SET seats = 0 WHERE event_id = :event_id
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT :topic, jsonb_build_object(
        'event_id', event.id,
        'booking_ids', coalesce((SELECT jsonb_agg(id ORDER BY id) FROM cancelled
                                 WHERE was_confirmed), '[]'::jsonb))
      FROM event
    )
    SELECT id FROM cancelled ORDER BY id
    """
)


def cancel_with_bookings(
    session: Session, event_id: int, *, now: datetime
) -> list[int]:
    """Cancel the event, every confirmed booking and hold of it, and end its
    waitlist; give all its seats back and write the outbox message (for the
    confirmed bookings' holders): one statement, run with every shard locked
    (`lock_seats`), so no booking can land in between; a booking that waited on a
    shard sees the event cancelled. Returns the cancelled bookings' ids."""
    return list(
        session.scalars(
            _CANCEL_WITH_BOOKINGS,
            {"event_id": event_id, "now": now, "topic": outbox.EVENT_CANCELLED},
        )
    )
