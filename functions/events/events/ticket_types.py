"""Ticket type and quota rules: plain functions handed a session and a clock.

Admin writes of an event's types and quotas take the event's admin-write lock
(db/events.py) first, as every admin write of the event does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from events.ticket_type_schemas import QuotaOut, TicketTypeOut
from ticketmania.db import events as event_table
from ticketmania.db import quotas as quota_table
from ticketmania.db import ticket_types as ticket_type_table
from ticketmania.db.models import Event, Quota, TicketType
from ticketmania.errors import (
    InvalidValue,
    NotFound,
    QuotaBelowUsed,
    TicketTypeInUse,
)
from ticketmania.observability import logger


def _active_event(session: Session, event_id: int) -> Event:
    event = event_table.get_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    return event


def _shown(
    session: Session, event: Event, types: list[TicketType], now: datetime
) -> list[TicketTypeOut]:
    available = ticket_type_table.availability(session, event.id)
    return [
        TicketTypeOut(
            id=t.id,
            event_id=t.event_id,
            name=t.name,
            price_minor=t.price_minor,
            currency=event.currency,
            sale_starts_at=t.sale_starts_at,
            sale_ends_at=t.sale_ends_at,
            max_per_order=t.max_per_order,
            position=t.position,
            is_default=t.is_default,
            on_sale=t.is_on_sale(now),
            available=available.get(t.id, 0),
        )
        for t in types
    ]


def list_types(
    session: Session, *, event_id: int, now: datetime
) -> list[TicketTypeOut]:
    event = _active_event(session, event_id)
    return _shown(
        session, event, ticket_type_table.list_for_event(session, event_id), now
    )


def create_type(
    session: Session, *, event_id: int, fields: dict[str, Any], now: datetime
) -> TicketTypeOut:
    logger.append_keys(event_id=event_id)
    event_table.lock_for_admin_write(session, event_id)
    event = _active_event(session, event_id)
    ticket_type = ticket_type_table.insert(session, event_id=event_id, **fields)
    session.commit()
    return _shown(session, event, [ticket_type], now)[0]


def _type_of_active_event(
    session: Session, ticket_type_id: int
) -> tuple[TicketType, Event]:
    ticket_type = ticket_type_table.get(session, ticket_type_id)
    if ticket_type is None:
        raise NotFound("Ticket type not found")
    event = event_table.get_active_event(session, ticket_type.event_id)
    if event is None:
        raise NotFound("Ticket type not found")
    return ticket_type, event


def update_type(
    session: Session, *, ticket_type_id: int, changes: dict[str, Any], now: datetime
) -> TicketTypeOut:
    """Change the type; orders already made keep their prices (each line
    carries its unit price from when it was made)."""
    _, event = _type_of_active_event(session, ticket_type_id)
    event_table.lock_for_admin_write(session, event.id)
    locked = ticket_type_table.lock(session, ticket_type_id)
    if locked is None:
        raise NotFound("Ticket type not found")
    starts = changes.get("sale_starts_at", locked.sale_starts_at)
    ends = changes.get("sale_ends_at", locked.sale_ends_at)
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidValue("sale_ends_at must be after sale_starts_at")
    if changes:
        locked = ticket_type_table.update_type(session, locked, changes)
    session.commit()
    return _shown(session, event, [locked], now)[0]


def delete_type(session: Session, *, ticket_type_id: int, now: datetime) -> None:
    """Gone (soft-deleted, out of its quotas) while nothing was sold of it;
    409 ticket_type_in_use once anything was. Under the event's shards' locks,
    so no order of it can land in between."""
    _, event = _type_of_active_event(session, ticket_type_id)
    event_table.lock_for_admin_write(session, event.id)
    event_table.lock_seats(session, event.id)
    locked = ticket_type_table.lock(session, ticket_type_id)
    if locked is None:
        raise NotFound("Ticket type not found")
    if ticket_type_table.is_in_use(session, ticket_type_id):
        raise TicketTypeInUse()
    ticket_type_table.soft_delete(session, locked, now=now)
    session.commit()


def _check_types(session: Session, event_id: int, type_ids: list[int]) -> None:
    known = {t.id for t in ticket_type_table.list_for_event(session, event_id)}
    unknown = [type_id for type_id in type_ids if type_id not in known]
    if unknown:
        raise NotFound(f"Ticket type {unknown[0]} not found for this event")


def _quota_out(session: Session, quota: Quota) -> QuotaOut:
    report = quota_table.report(session, quota)
    return QuotaOut(
        id=quota.id,
        event_id=quota.event_id,
        name=quota.name,
        size=quota.size,
        ticket_type_ids=quota_table.type_ids(session, quota.id),
        close_when_sold_out=quota.close_when_sold_out,
        confirmed=report.confirmed,
        held=report.held,
        available=report.available,
        closed=report.is_closed,
    )


def create_quota(
    session: Session, *, event_id: int, fields: dict[str, Any]
) -> QuotaOut:
    """A quota of `size` seats over the types: none of it is used yet (orders
    already made took from the quotas that counted them then)."""
    logger.append_keys(event_id=event_id)
    event_table.lock_for_admin_write(session, event_id)
    _active_event(session, event_id)
    _check_types(session, event_id, fields["ticket_type_ids"])
    quota = quota_table.insert(session, event_id=event_id, **fields)
    session.commit()
    return _quota_out(session, quota)


def _quota_of_active_event(session: Session, quota_id: int) -> Quota:
    quota = quota_table.get(session, quota_id)
    if quota is None or event_table.get_active_event(session, quota.event_id) is None:
        raise NotFound("Quota not found")
    return quota


def get_quota(session: Session, *, quota_id: int) -> QuotaOut:
    return _quota_out(session, _quota_of_active_event(session, quota_id))


def list_quotas(session: Session, *, event_id: int) -> list[QuotaOut]:
    _active_event(session, event_id)
    return [
        _quota_out(session, quota)
        for quota in quota_table.list_for_event(session, event_id)
    ]


def update_quota(
    session: Session, *, quota_id: int, changes: dict[str, Any]
) -> QuotaOut:
    """Rename, resize (never below what its orders hold: 409
    quota_below_used) or change the types it counts from now on. A resize
    locks the quota's shards, so orders in flight finish first and later
    ones see the new size."""
    quota = _quota_of_active_event(session, quota_id)
    logger.append_keys(event_id=quota.event_id)
    event_table.lock_for_admin_write(session, quota.event_id)
    if "ticket_type_ids" in changes:
        _check_types(session, quota.event_id, changes["ticket_type_ids"])
        quota_table.set_types(session, quota.id, changes["ticket_type_ids"])
    if "name" in changes:
        quota_table.rename(session, quota, changes["name"])
    if "size" in changes:
        shards = quota_table.lock_shards(session, quota.id)
        used = quota_table.used(session, quota.id)
        if changes["size"] < used:
            raise QuotaBelowUsed(
                f"size cannot go below the {used} seats its orders hold"
            )
        quota_table.resize(
            session,
            quota,
            size=changes["size"],
            used_seats=used,
            is_closed=shards.is_closed,
        )
    session.commit()
    session.refresh(quota)
    return _quota_out(session, quota)
