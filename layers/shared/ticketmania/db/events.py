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
    """The event row under FOR UPDATE: every seat change goes through this lock."""
    return session.scalar(
        select(Event)
        .where(Event.id == event_id, Event.cancelled_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def insert_event(session: Session, **fields: Any) -> Event:
    event = Event(**fields, available_seats=fields["total_seats"])
    session.add(event)
    session.flush()
    session.refresh(event)
    return event


def update_event(session: Session, event: Event, changes: dict[str, Any]) -> Event:
    session.execute(
        update(Event)
        .where(Event.id == event.id)
        .values(**changes, updated_at=func.now())
    )
    session.refresh(event)
    return event


_CANCEL_WITH_BOOKINGS = text(
    """
    WITH cancelled AS (
      UPDATE bookings SET status = 'cancelled', cancelled_at = :now
      WHERE event_id = :event_id AND status = 'confirmed'
      RETURNING id
    ), event AS (
      UPDATE events
      SET cancelled_at = :now, available_seats = total_seats, updated_at = now()
      WHERE id = :event_id
      RETURNING id
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT :topic, jsonb_build_object(
        'event_id', event.id,
        'booking_ids', coalesce((SELECT jsonb_agg(id ORDER BY id) FROM cancelled), '[]'::jsonb))
      FROM event
    )
    SELECT id FROM cancelled ORDER BY id
    """
)


def cancel_with_bookings(
    session: Session, event_id: int, *, now: datetime
) -> list[int]:
    """Cancel the event and every confirmed booking of it, give the seats back and
    write the outbox message: one statement, run while the event row is locked
    (`lock_active_event`), so no booking can land in between. Returns the
    cancelled bookings' ids."""
    return list(
        session.scalars(
            _CANCEL_WITH_BOOKINGS,
            {"event_id": event_id, "now": now, "topic": outbox.EVENT_CANCELLED},
        )
    )


def lock_event(session: Session, event_id: int) -> Event | None:
    """The event row under FOR UPDATE, cancelled or not."""
    return session.scalar(
        select(Event)
        .where(Event.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


_TAKE_SEATS = text(
    """
    UPDATE events SET available_seats = available_seats - :seats, updated_at = now()
    WHERE id = :event_id
      AND available_seats >= :seats
      AND cancelled_at IS NULL
      AND event_date > :now
      AND EXISTS (SELECT 1 FROM users WHERE id = :user_id AND token_version = :token_version)
    RETURNING id
    """
)


def take_seats(
    session: Session,
    *,
    event_id: int,
    seats: int,
    user_id: int,
    token_version: int,
    now: datetime,
) -> bool:
    """Take seats if the event is open, has them, and the booker's token is current.

    One guarded UPDATE, which also takes the row lock for the rest of the
    transaction. The token check costs a primary-key probe of users inside
    this statement: no extra round trip, no extra connection checkout.
    False: nothing taken and nothing locked (`read_refusal_facts` says why).
    """
    taken = session.scalar(
        _TAKE_SEATS,
        {
            "event_id": event_id,
            "seats": seats,
            "user_id": user_id,
            "token_version": token_version,
            "now": now,
        },
    )
    return taken is not None


@dataclass(frozen=True)
class RefusalFacts:
    """Why `take_seats` matched nothing, read afterwards without any lock."""

    is_event_found: bool
    is_event_open: bool
    available_seats: int
    # The booker's token_version as the database has it now (None: no such user).
    user_token_version: int | None


_REFUSAL_FACTS = text(
    """
    SELECT e.id IS NOT NULL,
           coalesce(e.cancelled_at IS NULL AND e.event_date > :now, false),
           coalesce(e.available_seats, 0),
           (SELECT token_version FROM users WHERE id = :user_id)
    FROM (SELECT 1) AS one LEFT JOIN events AS e ON e.id = :event_id
    """
)


def read_refusal_facts(
    session: Session, *, event_id: int, user_id: int, now: datetime
) -> RefusalFacts:
    row = session.execute(
        _REFUSAL_FACTS, {"event_id": event_id, "user_id": user_id, "now": now}
    ).one()
    return RefusalFacts(
        is_event_found=bool(row[0]),
        is_event_open=bool(row[1]),
        available_seats=int(row[2]),
        user_token_version=row[3],
    )
