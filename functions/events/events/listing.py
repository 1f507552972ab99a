"""GET /events as ready-to-send JSON, cache-aside under a versioned Redis key.

A hit costs one Redis round trip and no database connection; the JSON is sent
as stored, validated once when it was built. Admin writes retire every entry
(`logic.LISTING_NAMESPACE`); otherwise an entry lives EVENTS_CACHE_TTL seconds,
which bounds how stale availability in a listing can be.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from events import logic
from events.schemas import EVENT_LIST, EventQuery
from ticketmania.cache import Cache, read_versioned, write_versioned
from ticketmania.db.events import EventFilter
from ticketmania.observability import count, logger

SessionOpener = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Listing:
    """A page of events as JSON, with the total for X-Total-Count."""

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


def event_filter(query: EventQuery) -> EventFilter:
    return EventFilter(
        q=query.q,
        location=query.location,
        date_from=query.date_from,
        date_to=query.date_to,
        is_available_only=query.available_only,
    )


def cached_listing(
    open_session: SessionOpener,
    cache: Cache,
    query: EventQuery,
    *,
    ttl_seconds: int,
    clock: Callable[[], float] = time.monotonic,
) -> Listing:
    key = query.cache_key()
    version, cached = read_versioned(cache, logic.LISTING_NAMESPACE, key)
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
        rows, total = logic.list_events(
            session,
            event_filter(query),
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
        cache,
        logic.LISTING_NAMESPACE,
        version,
        key,
        listing.encode(),
        ttl_seconds=ttl_left,
    )
    return listing
