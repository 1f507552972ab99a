"""Event rules as plain functions: handed a session (or a way to open one), a cache, a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from events.schemas import EVENT_LIST, EventQuery
from ticketmania.cache import Cache, bump_version, read_versioned, write_versioned
from ticketmania.db import bookings, events, outbox
from ticketmania.db.models import Event
from ticketmania.errors import NotFound, SeatsBelowBooked
from ticketmania.observability import count, logger

LISTING_NAMESPACE = "events:list"

SessionOpener = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Listing:
    """A page of events as ready-to-send JSON, with the total for X-Total-Count."""

    body: bytes
    total: int

    def encode(self) -> bytes:
        return str(self.total).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Listing:
        total, _, body = raw.partition(b"\n")
        if not body.startswith(b"["):
            raise ValueError("not a cached listing")
        return cls(body=body, total=int(total))


def _event_filter(query: EventQuery) -> events.EventFilter:
    return events.EventFilter(
        q=query.q,
        location=query.location,
        date_from=query.date_from,
        date_to=query.date_to,
        is_available_only=query.available_only,
    )


def list_events(
    open_session: SessionOpener,
    cache: Cache,
    query: EventQuery,
    *,
    ttl_seconds: int,
    clock: Callable[[], float] = time.monotonic,
) -> Listing:
    """Cache-aside: a hit costs one Redis round trip and no database connection."""
    key = query.cache_key()
    version, cached = read_versioned(cache, LISTING_NAMESPACE, key)
    if cached is not None:
        try:
            listing = Listing.decode(cached)
        except ValueError:
            logger.warning("unreadable cached listing ignored")
            count("CacheGarbage")
        else:
            count("CacheHits")
            return listing
    count("CacheMisses")
    read_at = clock()
    with open_session() as session:
        rows, total = events.list_events(
            session,
            _event_filter(query),
            sort=query.sort,
            limit=query.limit,
            offset=query.offset,
        )
        page = EVENT_LIST.validate_python(rows, from_attributes=True)
    listing = Listing(body=EVENT_LIST.dump_json(page), total=total)
    # The TTL counts from when the data was read, so a slow query cannot stretch
    # the staleness bound past EVENTS_CACHE_TTL.
    ttl_left = ttl_seconds - (clock() - read_at)
    write_versioned(
        cache, LISTING_NAMESPACE, version, key, listing.encode(), ttl_seconds=ttl_left
    )
    return listing


def get_event(session: Session, event_id: int) -> Event:
    event = events.get_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    return event


def create_event(session: Session, cache: Cache, *, fields: dict[str, Any]) -> Event:
    event = events.insert_event(session, **fields)
    session.commit()
    bump_version(cache, LISTING_NAMESPACE)
    return event


def update_event(
    session: Session, cache: Cache, *, event_id: int, changes: dict[str, Any]
) -> Event:
    event = events.lock_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    if "total_seats" in changes:
        booked = event.total_seats - event.available_seats
        if changes["total_seats"] < booked:
            raise SeatsBelowBooked(
                f"total_seats cannot go below the {booked} seats already booked"
            )
        # Same delta on both, under the row lock: bookings cannot slip in between.
        changes["available_seats"] = (
            event.available_seats + changes["total_seats"] - event.total_seats
        )
    event = events.update_event(session, event, changes)
    session.commit()
    bump_version(cache, LISTING_NAMESPACE)
    return event


def cancel_event(
    session: Session, cache: Cache, *, event_id: int, now: datetime
) -> int:
    """Hide the event and cancel its bookings, keeping every row. Returns bookings cancelled."""
    event = events.lock_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    cancelled = bookings.cancel_all_for_event(session, event.id, now=now)
    events.mark_cancelled(session, event, now=now)
    # Tells every holder of a cancelled booking, once a consumer relays the outbox.
    outbox.add_message(
        session,
        topic="event.cancelled",
        payload={"event_id": event.id, "booking_ids": cancelled},
    )
    session.commit()
    bump_version(cache, LISTING_NAMESPACE)
    logger.info(
        "event cancelled",
        extra={"event_id": event_id, "bookings_cancelled": len(cancelled)},
    )
    return len(cancelled)
