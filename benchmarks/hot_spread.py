"""Hot versus spread at the database, with the booking path's own statement.

pgbench runs BOOK_FROM_ONE_SHARD (db/bookings.py) prepared, every client
booking 1 seat for users of its own: on ONE event with 64 shards (hot) and
on 64 such events picked at random per transaction (spread). The same for the
old design's limit: one transaction that takes a seat from ONE row and writes
the booking, on one event's row (hot) or 64 events' rows (spread). Variants
alternate within each round; medians over the rounds.
"""

from __future__ import annotations

from typing import Any

from benchmarks import pgbench, seed
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.timing import median
from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD

EVENTS_SPREAD = 64
SEATS = 64_000_000  # 64 shards of a million: never sold out


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
    for round_number in range(rounds):
        for count in clients:
            order = (
                list(variants) if round_number % 2 == 0 else list(reversed(variants))
            )
            for name in order:
                script, events = variants[name]
                before = seed.bookings_of(events)
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
