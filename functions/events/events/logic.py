"""Event rules as plain functions: handed a session, a cache and a clock.

Each write is one use case that owns its transaction: it commits on success;
anything it leaves uncommitted is rolled back when the session closes. Every
admin write retires the cached listings, so it shows in the very next one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ticketmania import seat_release, sold_out
from ticketmania.cache import Cache, bump_version
from ticketmania.db import events as event_table
from ticketmania.db import ticket_types as ticket_type_table
from ticketmania.db.models import Event
from ticketmania.errors import CurrencyLocked, NotFound, SeatsBelowBooked
from ticketmania.listings import LISTING_NAMESPACE
from ticketmania.observability import logger


def get_event(session: Session, event_id: int) -> Event:
    event = event_table.get_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    return event


def create_event(session: Session, cache: Cache, *, fields: dict[str, Any]) -> Event:
    event = event_table.insert_event(session, **fields)
    session.commit()
    logger.append_keys(event_id=event.id)
    bump_version(cache, LISTING_NAMESPACE)
    return event


def update_event(
    session: Session,
    cache: Cache,
    *,
    event_id: int,
    changes: dict[str, Any],
    now: datetime,
    offer_seconds: int,
) -> Event:
    logger.append_keys(event_id=event_id)
    is_resize = "total_seats" in changes
    event_table.lock_for_admin_write(session, event_id)
    # Seats first, then the event row: the order every seat change locks in.
    unsold = event_table.lock_seats(session, event_id) if is_resize else []
    event = event_table.lock_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    if changes.get(
        "currency", event.currency
    ) != event.currency and ticket_type_table.is_event_sold(session, event_id):
        raise CurrencyLocked()
    if is_resize:
        if not unsold:
            raise NotFound("Event not found")
        # Ended holds are not booked: their seats count as unsold in the resize.
        unsold = seat_release.give_back_ended(session, event_id, unsold, now=now)
        unsold = resize_seats(event, unsold, total_seats=changes["total_seats"])
        changes = {**changes, "shard_count": len(unsold)}
    event = event_table.update_event(session, event, changes)
    if is_resize:
        # Seats a larger total adds go to the event's line first, in order.
        unsold, _ = seat_release.offer_in_order(
            session, event, unsold, now=now, offer_seconds=offer_seconds
        )
        event_table.set_seats(session, event.id, unsold)
        session.refresh(event)  # available_seats, as the shards now have it
    session.commit()
    bump_version(cache, LISTING_NAMESPACE)
    if is_resize:
        sold_out.seats_given_back(cache, event_id)
    return event


def resize_seats(event: Event, unsold: list[int], *, total_seats: int) -> list[int]:
    """The unsold seats of each shard once the total is `total_seats`, from what
    each holds now with every shard locked: booked seats (confirmed, and held
    by live holds) stay booked, and the unsold ones are spread evenly again,
    over more shards if the event grew."""
    booked = event.total_seats - sum(unsold)
    if total_seats < booked:
        raise SeatsBelowBooked(
            f"total_seats cannot go below the {booked} seats already booked or held"
        )
    shard_count = max(len(unsold), event_table.shard_count_for(total_seats))
    return event_table.spread(total_seats - booked, shard_count)


def cancel_event(
    session: Session, cache: Cache, *, event_id: int, now: datetime
) -> int:
    """Hide the event and cancel its bookings, keeping every row. Returns bookings cancelled."""
    logger.append_keys(event_id=event_id)
    event_table.lock_for_admin_write(session, event_id)
    # Every shard first: bookings in flight finish, later ones wait and then see
    # the event cancelled.
    event_table.lock_seats(session, event_id)
    event = event_table.lock_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    cancelled = event_table.cancel_with_bookings(session, event.id, now=now)
    session.commit()
    bump_version(cache, LISTING_NAMESPACE)
    sold_out.seats_given_back(cache, event_id)
    logger.info("event cancelled", extra={"bookings_cancelled": len(cancelled)})
    return len(cancelled)
