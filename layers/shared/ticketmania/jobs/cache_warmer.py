"""warm-cache: the first listing pages, read fresh and stored in Redis, so the
first visitor after a deploy or a Redis flush is served from the cache."""

from __future__ import annotations

from ticketmania.cache import Cache
from ticketmania.db.engine import SessionOpener
from ticketmania.listings import EventQuery, refresh_listing

PAGES = 3


def warm_cache(
    open_session: SessionOpener, cache: Cache, *, ttl_seconds: int
) -> dict[str, int]:
    if not cache.is_enabled:
        return {"pages": 0}
    first = EventQuery()
    for page in range(PAGES):
        refresh_listing(
            open_session,
            cache,
            EventQuery(offset=page * first.limit),
            ttl_seconds=ttl_seconds,
        )
    return {"pages": PAGES}
