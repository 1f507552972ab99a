"""GET /events through EventsFunction's handler: a cache hit against a database read."""

from __future__ import annotations

from sqlalchemy import text

from benchmarks.timing import Timing, time_calls
from tests.lambda_events import invoke, load_event
from ticketmania.db.engine import get_engine


def _seed(events: int) -> None:
    """`events` events of 100 seats with 50 unsold, each in one shard (the
    migration's rule would give 10; one is enough for a listing, which sums them)."""
    with get_engine().begin() as connection:
        connection.execute(
            text(
                """
                WITH event AS (
                  INSERT INTO events (title, description, location, event_date, total_seats, shard_count)
                  SELECT 'Event ' || n, 'About ' || n, 'City ' || mod(n, 300),
                         now() + (n || ' minutes')::interval, 100, 1
                  FROM generate_series(1, :n) n
                  RETURNING id
                )
                INSERT INTO seat_shards (event_id, shard, available)
                SELECT id, 0, 50 FROM event
                """
            ),
            {"n": events},
        )
        connection.execute(text("ANALYZE events"))
        connection.execute(text("ANALYZE seat_shards"))


def measure(*, event_count: int, repeat: int) -> tuple[Timing, Timing]:
    """(cache hit, cache disabled) timings of one handler invocation."""
    import events.routes
    from events.app import handler
    from ticketmania.cache import Cache, get_cache

    _seed(event_count)
    sample = load_event("http_api_events_list")
    hit = time_calls(lambda: invoke(handler, sample), repeat=repeat)
    # The route reads the cache through its module's name: swap it for a disabled one.
    real_cache = events.routes.get_cache  # type: ignore[attr-defined]
    setattr(events.routes, "get_cache", lambda: Cache(None, breaker_seconds=0))  # noqa: B010
    try:
        miss = time_calls(lambda: invoke(handler, sample), repeat=repeat)
    finally:
        setattr(events.routes, "get_cache", real_cache)  # noqa: B010
    assert get_cache().is_enabled
    return hit, miss
