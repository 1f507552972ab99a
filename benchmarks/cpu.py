"""CPU per warm invocation, in process: Lambda handlers called directly.

Four handlers, alternating round by round, each call timed with
time.process_time() (this process's CPU only: Postgres and Redis work in
their own processes and are not counted):

- post_baseline: bare FastAPI + Mangum, one sync POST route (pydantic body, a dict back)
- get_baseline: bare FastAPI + Mangum, one async GET route (a dict back)
- booking: bookings.app.handler booking 1 seat, no Idempotency-Key, on an event
  with seats to spare (a fresh session per call, as the handler does)
- listing: events.app.handler answering GET /events from the warm cache

EMF metrics are on, as in Lambda (Powertools prints them to stdout, which goes
to /dev/null while the calls run). Events are built before the timed loop.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.timing import median
from tests.lambda_events import LambdaContext, load_event, with_overrides

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@contextlib.contextmanager
def lambda_like_output() -> Iterator[None]:
    """Metrics flushed as in Lambda, to /dev/null."""
    before = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        if before is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = before


def booking_events(tokens: list[str], event_id: int) -> list[dict[str, Any]]:
    """POST /bookings events, one per token, without an Idempotency-Key."""
    events = []
    for token in tokens:
        event = with_overrides(
            load_event("http_api_bookings_create"),
            token=token,
            body={"event_id": event_id, "seats_booked": 1},
        )
        del event["headers"]["idempotency-key"]
        events.append(event)
    return events


def variants(
    tokens: list[str], event_id: int
) -> dict[str, tuple[Handler, list[dict[str, Any]]]]:
    from benchmarks.bare_app import get_handler, post_handler
    from bookings.app import handler as bookings_handler
    from events.app import handler as events_handler

    bookings = booking_events(tokens, event_id)
    listing = [load_event("http_api_events_list") for _ in range(4)]
    return {
        "post_baseline": (post_handler, booking_events(tokens[:4], event_id)),
        "get_baseline": (
            get_handler,
            [load_event("http_api_events_list") for _ in range(4)],
        ),
        "booking": (bookings_handler, bookings),
        "listing": (events_handler, listing),
    }


EXPECTED_STATUS = {
    "post_baseline": 201,
    "get_baseline": 200,
    "booking": 201,
    "listing": 200,
}


def measure(
    *,
    tokens: list[str],
    event_id: int,
    rounds: int,
    calls_per_round: int,
    warmup: int = 30,
) -> dict[str, Any]:
    """Median CPU ms per invocation of each variant, and how many calls each made."""
    chosen = variants(tokens, event_id)
    contexts = [LambdaContext() for _ in range(64)]
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    statuses: dict[str, Counter[int]] = {name: Counter() for name in chosen}
    with lambda_like_output():
        for handler, events in chosen.values():
            for i in range(warmup):
                handler(events[i % len(events)], contexts[i % len(contexts)])
        for _ in range(rounds):
            for name, (handler, events) in chosen.items():
                record = samples[name].append
                seen = statuses[name]
                for i in range(calls_per_round):
                    event = events[i % len(events)]
                    context = contexts[i % len(contexts)]
                    start = time.process_time()
                    result = handler(event, context)
                    record(time.process_time() - start)
                    seen[result["statusCode"]] += 1
    wrong = {
        name: dict(seen)
        for name, seen in statuses.items()
        if set(seen) != {EXPECTED_STATUS[name]}
    }
    if wrong:
        raise RuntimeError(f"unexpected statuses in the CPU benchmark: {wrong}")
    cpu_ms = {name: median(values) * 1000 for name, values in samples.items()}
    return {
        "cpu_ms": cpu_ms,
        "calls": {name: len(values) for name, values in samples.items()},
        "booking_vs_post": cpu_ms["booking"] / cpu_ms["post_baseline"],
        "listing_vs_get": cpu_ms["listing"] / cpu_ms["get_baseline"],
    }


def listing_statements(count: int = 20) -> int:
    """Database statements sent by `count` warm GET /events calls (0: all cache hits)."""
    from benchmarks.lock_statements import StatementLog
    from events.app import handler

    event = load_event("http_api_events_list")
    with lambda_like_output(), StatementLog() as log:
        for _ in range(count):
            handler(event, LambdaContext())  # type: ignore[arg-type]
    return len(log.entries)


# Where a warm booking's CPU goes: (module, name) of each part, patched where the
# booking path looks it up, and what it is.
BOOKING_PARTS = {
    ("fastapi.routing", "solve_dependencies"): (
        "FastAPI resolving the route's dependencies: the body, the token, the session"
    ),
    ("ticketmania.web.deps", "read_access_token"): (
        "of which reading the token (PyJWT: signature and claims)"
    ),
    ("bookings.logic", "book_seats"): "the booking's rules (book_seats)",
    ("ticketmania.admission", "_ask_redis"): (
        "of which the Redis round trip (token version, rate, sold-out marker)"
    ),
    ("ticketmania.db.bookings", "run_alone"): (
        "of which the booking statement (one round trip to Postgres)"
    ),
    ("fastapi.routing", "serialize_response"): (
        "FastAPI serialising the answer (response_model)"
    ),
}


def booking_breakdown(
    *, tokens: list[str], event_id: int, calls: int
) -> dict[str, float]:
    """CPU ms per warm booking in all and in each of BOOKING_PARTS (inclusive),
    each part timed with time.process_time() around its own calls."""
    import importlib
    import inspect

    from bookings.app import handler

    spent = dict.fromkeys(BOOKING_PARTS.values(), 0.0)
    originals = []

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        # None of the parts calls another through its patched name, so each
        # call's own time is its part's.
        if inspect.iscoroutinefunction(function):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = time.process_time()
                try:
                    return await function(*args, **kwargs)
                finally:
                    spent[label] += time.process_time() - start

            return timed_async

        def timed_sync(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start

        return timed_sync

    events = booking_events(tokens, event_id)
    contexts = [LambdaContext() for _ in range(8)]
    whole = 0.0
    try:
        for (module_name, name), label in BOOKING_PARTS.items():
            module = importlib.import_module(module_name)
            originals.append((module, name, getattr(module, name)))
            setattr(module, name, timed(label, getattr(module, name)))
        with lambda_like_output():
            for i in range(30):
                handler(events[i % len(events)], contexts[i % len(contexts)])  # type: ignore[arg-type]
            spent.update(dict.fromkeys(spent, 0.0))
            statuses: Counter[int] = Counter()
            for i in range(calls):
                start = time.process_time()
                result = handler(events[i % len(events)], contexts[i % len(contexts)])  # type: ignore[arg-type]
                whole += time.process_time() - start
                statuses[result["statusCode"]] += 1
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    if set(statuses) != {201}:  # a refusal is not a booking's cost
        raise RuntimeError(f"booking breakdown: answers {dict(statuses)}, not all 201")
    return {
        "the whole invocation": whole / calls * 1000,
        **{label: total / calls * 1000 for label, total in spent.items()},
    }
