"""Hot versus spread at the database, with the booking path's own statement.

pgbench runs BOOK_FROM_ONE_SHARD (db/bookings.py) prepared, every client
booking 1 seat for users of its own: on ONE event with 64 shards (hot) and
on 64 such events picked at random per transaction (spread). The same for the
old design's limit: one transaction that takes a seat from ONE row and writes
the booking, on one event's row (hot) or 64 events' rows (spread). Variants
alternate within each round; medians over the rounds.

While each run goes, pg_stat_activity is sampled every 20 ms for what the
active pgbench backends wait on (no wait event: on a CPU, or queued for one),
to say where hot loses to spread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from benchmarks import pgbench, seed
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.timing import median
from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD
from ticketmania.db.engine import get_engine

EVENTS_SPREAD = 64
SEATS = 64_000_000  # 64 shards of a million: never sold out


_WAITS = text(
    """
    SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
    FROM pg_stat_activity
    WHERE application_name = 'pgbench' AND state = 'active'
      AND datname = current_database()
    """
)


@contextmanager
def sampled_waits(counts: Counter[str]) -> Iterator[None]:
    """Count what the active pgbench backends wait on while the block runs."""
    stop = threading.Event()

    def sample() -> None:
        with get_engine().connect() as connection:
            while not stop.wait(0.02):
                counts.update(connection.scalars(_WAITS))
                connection.rollback()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join(5)


def _heap_pages(event_id: int) -> int:
    with get_engine().connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(DISTINCT (ctid::text::point)[0]) FROM seat_shards "
                    "WHERE event_id = :e"
                ),
                {"e": event_id},
            )
        )


def measure(
    services: Services,
    *,
    user_min: int,
    clients: tuple[int, ...],
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    hot = seed.create_event(total_seats=SEATS, title="Hot")
    spread = seed.create_events(EVENTS_SPREAD, total_seats=SEATS, title="Spread")
    one_row = seed.create_one_row_events(EVENTS_SPREAD + 1, seats=1_000_000_000)
    booking = pgbench.booking_statement_script(BOOK_FROM_ONE_SHARD)
    variants = {
        "statement_hot": (booking, [hot]),
        "statement_spread": (booking, spread),
        "one_row_hot": (pgbench.ONE_ROW_SCRIPT, one_row[:1]),
        "one_row_spread": (pgbench.ONE_ROW_SCRIPT, one_row[1:]),
    }
    # Warm the caches and the tables once.
    for script, events in variants.values():
        pgbench.run(
            services,
            script,
            clients=4,
            seconds=1,
            user_min=user_min,
            event_min=events[0],
            event_max=events[-1],
        )
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {c: [] for c in clients} for name in variants
    }
    waits: dict[str, dict[int, Counter[str]]] = {
        name: {c: Counter() for c in clients} for name in variants
    }
    for round_number in range(rounds):
        for count in clients:
            order = (
                list(variants) if round_number % 2 == 0 else list(reversed(variants))
            )
            for name in order:
                script, events = variants[name]
                before = seed.bookings_of(events)
                with sampled_waits(waits[name][count]):
                    run = pgbench.run(
                        services,
                        script,
                        clients=count,
                        seconds=seconds,
                        user_min=user_min,
                        event_min=events[0],
                        event_max=events[-1],
                    )
                booked = seed.bookings_of(events) - before
                runs[name][count].append({**run.as_dict(), "booked": booked})
                say(
                    f"hot vs spread, round {round_number + 1}/{rounds}, {count} clients, "
                    f"{name}: {run.tps:.0f} tps, p99 {run.p99_ms:.1f} ms"
                )
    summary: dict[str, Any] = {
        "clients": list(clients),
        "rounds": rounds,
        "seconds": seconds,
        # Where the hot event's shards live: rows of one heap page share its lock.
        "hot_shard_heap_pages": _heap_pages(hot),
        "waits": {
            name: {
                str(c): {
                    wait: n / max(1, sum(found.values()))
                    for wait, n in found.most_common(8)
                }
                for c, found in by_clients.items()
            }
            for name, by_clients in waits.items()
        },
    }
    for name in variants:
        summary[name] = {
            str(c): {
                "tps": median([r["tps"] for r in runs[name][c]]),
                "p50_ms": median([r["p50_ms"] for r in runs[name][c]]),
                "p99_ms": median([r["p99_ms"] for r in runs[name][c]]),
                "tps_rounds": [r["tps"] for r in runs[name][c]],
                "transactions": sum(r["transactions"] for r in runs[name][c]),
                "booked": sum(r["booked"] for r in runs[name][c]),
            }
            for c in clients
        }
    for kind in ("statement", "one_row"):
        summary[f"{kind}_ratio"] = {
            str(c): summary[f"{kind}_hot"][str(c)]["tps"]
            / summary[f"{kind}_spread"][str(c)]["tps"]
            for c in clients
        }
        summary[f"{kind}_ratio_rounds"] = {
            str(c): [
                hot["tps"] / spread["tps"]
                for hot, spread in zip(
                    runs[f"{kind}_hot"][c], runs[f"{kind}_spread"][c], strict=True
                )
            ]
            for c in clients
        }
    return summary
