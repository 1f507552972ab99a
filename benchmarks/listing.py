"""GET /events through EventsFunction's handler: a cache hit against a database read."""

from __future__ import annotations

from sqlalchemy import text

from benchmarks.timing import Timing, time_calls
from tests.lambda_events import invoke, load_event
from ticketmania.db.engine import get_engine


def _seed(events: int) -> None:
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (title, description, location, event_date, total_seats, available_seats) "
                "SELECT 'Event ' || n, 'About ' || n, 'City ' || mod(n, 300), now() + (n || ' minutes')::interval, 100, 50 "
                "FROM generate_series(1, :n) n"
            ),
            {"n": events},
        )
        connection.execute(text("ANALYZE events"))


def measure(*, event_count: int, repeat: int) -> tuple[Timing, Timing]:
    """(cache hit, cache disabled) timings of one handler invocation."""
    import events.routes
    from events.app import handler
    from ticketmania.cache import Cache, get_cache

    _seed(event_count)
    sample = load_event("http_api_events_list")
    hit = time_calls(lambda: invoke(handler, sample), repeat=repeat)
    real_cache = events.routes.get_cache
    events.routes.get_cache = lambda: Cache(None, breaker_seconds=0)  # type: ignore[assignment]
    try:
        miss = time_calls(lambda: invoke(handler, sample), repeat=repeat)
    finally:
        events.routes.get_cache = real_cache  # type: ignore[assignment]
    assert get_cache().is_enabled
    return hit, miss
