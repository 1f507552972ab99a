"""Orders against bookings, in the same run.

Through HTTP (one `ticketmania serve`): wrk POSTs orders of 1, 2 and 3 lines
(cycled) on a hot event with 3 ticket types and 2 overlapping quotas (A+B,
B+C), against one-seat POST /bookings of the default type on a plain hot
event, alternating, the same connections and seconds; orders/s against
bookings/s.

At the database (pgbench, prepared, 1 seat per line): the order statement
(ORDER_FROM_ONE_SHARD_EACH, 3 lines) on one such event (hot) and on 64 of
them (spread); and today's booking statement against the one before ticket
types (benchmarks/booking_before_types.py) on one hot event: the one-type
booking's cost of knowing its type.
"""

from __future__ import annotations

from typing import Any

from benchmarks import pgbench, seed
from benchmarks.booking_before_types import BOOK_FROM_ONE_SHARD_BEFORE_TYPES
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.servers import Server
from benchmarks.timing import median
from benchmarks.wrk import BookingLoad
from ticketmania.db import quotas, ticket_types
from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD
from ticketmania.db.engine import open_session
from ticketmania.db.orders import ORDER_FROM_ONE_SHARD_EACH

SEATS = 64_000_000
EVENTS_SPREAD = 64


def typed_event(*, title: str) -> tuple[int, list[int]]:
    """A never-sold-out event with types A, B, C and quotas over A+B and B+C."""
    event_id = seed.create_event(total_seats=SEATS, title=title)
    with open_session() as session:
        type_ids = [
            ticket_types.insert(
                session, event_id=event_id, name=name, price_minor=price
            ).id
            for name, price in (("A", 1000), ("B", 2000), ("C", 3000))
        ]
        a, b, c = type_ids
        for name, members in (("AB", [a, b]), ("BC", [b, c])):
            quotas.insert(
                session,
                event_id=event_id,
                name=name,
                size=SEATS,
                close_when_sold_out=False,
                ticket_type_ids=members,
            )
        session.commit()
    return event_id, type_ids


def order_bodies(event_id: int, type_ids: list[int]) -> list[dict[str, object]]:
    a, b, c = type_ids
    return [
        {
            "event_id": event_id,
            "lines": [{"ticket_type_id": t, "quantity": 1} for t in ids],
        }
        for ids in ([a], [a, b], [c, b, a])
    ]


def http(
    server: Server, tokens: list[str], *, connections: int, rounds: int, seconds: float
) -> dict[str, Any]:
    plain = seed.create_event(total_seats=SEATS, title="Plain hot")
    typed, type_ids = typed_event(title="Typed hot")
    loads = {
        "bookings": BookingLoad(tokens=tokens, event_id=plain),
        "orders": BookingLoad(
            tokens=tokens,
            event_id=typed,
            path="/orders",
            bodies=order_bodies(typed, type_ids),
        ),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in loads}
    try:
        for load in loads.values():  # warm
            load.run(server.url, connections=connections, seconds=1)
        for round_number in range(rounds):
            order = list(loads) if round_number % 2 == 0 else list(reversed(loads))
            for name in order:
                run = loads[name].run(
                    server.url, connections=connections, seconds=seconds
                )
                if run.non_2xx or run.socket_errors or run.timeouts:
                    raise RuntimeError(f"{name}: not every request succeeded: {run}")
                runs[name].append(run.as_dict())
                say(
                    f"orders vs bookings, round {round_number + 1}/{rounds}, {name}: "
                    f"{run.ok_per_second:.0f}/s, p99 {run.p99_ms:.1f} ms"
                )
    finally:
        for load in loads.values():
            load.close()
    summary: dict[str, Any] = {
        "connections": connections,
        "rounds": rounds,
        "seconds": seconds,
        "lines_cycled": [1, 2, 3],
    }
    for name, found in runs.items():
        summary[name] = {
            "per_second": median([r["ok_per_second"] for r in found]),
            "p50_ms": median([r["p50_ms"] for r in found]),
            "p99_ms": median([r["p99_ms"] for r in found]),
            "per_second_rounds": [r["ok_per_second"] for r in found],
        }
    # Each round ran both back to back: its ratio compares loads that met the
    # same machine (the rates swing by 1.5x from round to round here).
    summary["orders_vs_bookings_rounds"] = [
        order["ok_per_second"] / booking["ok_per_second"]
        for order, booking in zip(runs["orders"], runs["bookings"], strict=True)
    ]
    summary["orders_vs_bookings"] = median(summary["orders_vs_bookings_rounds"])
    summary["orders_vs_bookings_of_medians"] = (
        summary["orders"]["per_second"] / summary["bookings"]["per_second"]
    )
    return summary


# Three lines of one seat each, the types read per transaction from the event.
_TYPES_OF_EVENT = (
    "ARRAY(SELECT id FROM ticket_types WHERE event_id = :event_id "
    "AND NOT is_default ORDER BY id)"
)


def order_script() -> str:
    statement = ORDER_FROM_ONE_SHARD_EACH.replace(
        "CAST(:type_ids AS bigint[])", _TYPES_OF_EVENT
    ).replace("CAST(:quantities AS int[])", "ARRAY[1, 1, 1]")
    return pgbench.booking_statement_script(statement)


def database(
    services: Services,
    *,
    user_min: int,
    clients: tuple[int, ...],
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    hot, _ = typed_event(title="Typed hot")
    spread = [typed_event(title="Typed spread")[0] for _ in range(EVENTS_SPREAD)]
    plain = seed.create_event(total_seats=SEATS, title="Plain hot")
    orders = order_script()
    variants = {
        "order_hot": (orders, [hot], 3),
        "order_spread": (orders, spread, 3),
        "booking_now": (
            pgbench.booking_statement_script(BOOK_FROM_ONE_SHARD),
            [plain],
            1,
        ),
        "booking_before_types": (
            pgbench.booking_statement_script(BOOK_FROM_ONE_SHARD_BEFORE_TYPES),
            [plain],
            1,
        ),
    }
    if spread != list(range(spread[0], spread[0] + EVENTS_SPREAD)):
        raise RuntimeError("the spread events' ids are not contiguous")

    def run(name: str, count: int, run_seconds: float) -> pgbench.PgbenchRun:
        script, events, seats = variants[name]
        return pgbench.run(
            services,
            script,
            clients=count,
            seconds=run_seconds,
            user_min=user_min,
            event_min=events[0],
            event_max=events[-1],
            seats=seats,
        )

    for name in variants:  # warm the caches and the tables
        run(name, 4, 1)
    runs: dict[str, dict[int, list[float]]] = {
        name: {c: [] for c in clients} for name in variants
    }
    for round_number in range(rounds):
        for count in clients:
            order = (
                list(variants) if round_number % 2 == 0 else list(reversed(variants))
            )
            for name in order:
                result = run(name, count, seconds)
                runs[name][count].append(result.tps)
                say(
                    f"order statement, round {round_number + 1}/{rounds}, {count} "
                    f"clients, {name}: {result.tps:.0f} tps"
                )
    summary: dict[str, Any] = {
        "clients": list(clients),
        "rounds": rounds,
        "seconds": seconds,
    }
    for name in variants:
        summary[name] = {
            str(c): {"tps": median(runs[name][c]), "tps_rounds": runs[name][c]}
            for c in clients
        }
    summary["order_hot_vs_spread"] = {
        str(c): summary["order_hot"][str(c)]["tps"]
        / summary["order_spread"][str(c)]["tps"]
        for c in clients
    }
    # Per round, as above: the two statements ran one after the other.
    summary["booking_now_vs_before_types"] = {
        str(c): median(
            [
                now / before
                for now, before in zip(
                    runs["booking_now"][c], runs["booking_before_types"][c], strict=True
                )
            ]
        )
        for c in clients
    }
    return summary
