"""Data access for ticket types, and what each can still be had of.

A type is soft-deleted (`deleted_at`) and only while nothing was ever sold of
it; every read here leaves deleted types out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ticketmania.db.models import TicketType


def list_for_event(session: Session, event_id: int) -> list[TicketType]:
    return list(
        session.scalars(
            select(TicketType)
            .where(TicketType.event_id == event_id, TicketType.deleted_at.is_(None))
            .order_by(TicketType.position, TicketType.id)
        )
    )


def get(session: Session, ticket_type_id: int) -> TicketType | None:
    return session.scalar(
        select(TicketType).where(
            TicketType.id == ticket_type_id, TicketType.deleted_at.is_(None)
        )
    )


def lock(session: Session, ticket_type_id: int) -> TicketType | None:
    """The type's row, locked against other admin writes of it."""
    return session.scalar(
        select(TicketType)
        .where(TicketType.id == ticket_type_id, TicketType.deleted_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def is_deleted_of(session: Session, event_id: int, ticket_type_id: int) -> bool:
    """The type was the event's and is deleted."""
    return bool(
        session.scalar(
            select(TicketType.id).where(
                TicketType.id == ticket_type_id,
                TicketType.event_id == event_id,
                TicketType.deleted_at.is_not(None),
            )
        )
    )


def insert(session: Session, *, event_id: int, **fields: Any) -> TicketType:
    ticket_type = TicketType(event_id=event_id, **fields)
    session.add(ticket_type)
    session.flush()
    session.refresh(ticket_type)
    return ticket_type


def update_type(
    session: Session, ticket_type: TicketType, changes: dict[str, Any]
) -> TicketType:
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type.id)
        .values(**changes, updated_at=func.now())
    )
    session.refresh(ticket_type)
    return ticket_type


def soft_delete(session: Session, ticket_type: TicketType, *, now: datetime) -> None:
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type.id)
        .values(deleted_at=now, updated_at=func.now())
    )
    session.execute(
        text("DELETE FROM quota_ticket_types WHERE ticket_type_id = :id"),
        {"id": ticket_type.id},
    )
    # A new version of the event's row: a booking or an order whose snapshot
    # still has the type alive finds the row changed under its share lock and
    # asks again (db/bookings.py, GUARDS), so none sells the type once gone.
    session.execute(
        text("UPDATE events SET updated_at = now() WHERE id = :id"),
        {"id": ticket_type.event_id},
    )


_IS_SOLD = text(
    """
    SELECT EXISTS (SELECT 1 FROM order_lines WHERE ticket_type_id = :id)
        OR EXISTS (SELECT 1 FROM waitlist_entries WHERE ticket_type_id = :id)
    """
)


def is_in_use(session: Session, ticket_type_id: int) -> bool:
    """Anything was ever sold of the type (or a waitlist entry names it)."""
    return bool(session.scalar(_IS_SOLD, {"id": ticket_type_id}))


_IS_EVENT_SOLD = text("SELECT EXISTS (SELECT 1 FROM bookings WHERE event_id = :id)")


def is_event_sold(session: Session, event_id: int) -> bool:
    """Anything was ever sold of the event."""
    return bool(session.scalar(_IS_EVENT_SOLD, {"id": event_id}))


# What each type can be had of: the least of the event's free seats and each
# of its quotas' (unsold seats, plus those of ended holds not yet settled,
# which are free from their end on; a closed quota has none). The event's
# number is the one `Event.available_seats` reads.
_AVAILABILITY = text(
    """
    WITH ended AS (
      SELECT id, seats_booked FROM bookings
      WHERE event_id = :event_id AND status = 'held' AND expires_at <= statement_timestamp()
    ), event_free AS (
      SELECT (SELECT coalesce(sum(available), 0) FROM seat_shards WHERE event_id = :event_id)
           + (SELECT coalesce(sum(seats_booked), 0) FROM ended) AS seats
    ), quota_free AS (
      SELECT q.id,
             CASE WHEN bool_or(s.closed) THEN 0
                  ELSE sum(s.available) + coalesce((
                    SELECT sum(k.seats) FROM booking_quota_takes AS k
                    JOIN ended ON ended.id = k.booking_id WHERE k.quota_id = q.id), 0)
             END AS seats
      FROM quotas AS q JOIN quota_shards AS s ON s.quota_id = q.id
      WHERE q.event_id = :event_id
      GROUP BY q.id
    )
    SELECT t.id, least((SELECT seats FROM event_free), min(quota_free.seats))
    FROM ticket_types AS t
    LEFT JOIN quota_ticket_types AS qt ON qt.ticket_type_id = t.id
    LEFT JOIN quota_free ON quota_free.id = qt.quota_id
    WHERE t.event_id = :event_id AND t.deleted_at IS NULL
    GROUP BY t.id
    """
)


def availability(session: Session, event_id: int) -> dict[int, int]:
    """Seats each of the event's types can still be had of, by type id."""
    return {
        int(row[0]): int(row[1])
        for row in session.execute(_AVAILABILITY, {"event_id": event_id})
    }


def default_of(session: Session, event_id: int) -> TicketType | None:
    """The event's default type: what `POST /bookings` sells."""
    return session.scalar(
        select(TicketType).where(
            TicketType.event_id == event_id,
            TicketType.is_default,
            TicketType.deleted_at.is_(None),
        )
    )
