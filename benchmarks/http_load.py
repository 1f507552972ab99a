"""Bookings through the local server against concurrency, with wrk.

First the worker count: the booking load at 32 connections on `ticketmania
serve --workers 1, 2, 4, 8`, each both as a developer runs it and with
TCP_NODELAY (benchmarks/nodelay.py: without it, every multi-worker response
waits ~40 ms for the client's delayed ACK). Then the curve at 1..128
connections with the best count: the booking server (with and without
TCP_NODELAY), the bare FastAPI app under uvicorn with the same workers, and
pgbench's one-row transaction with as many clients. Variants alternate within
each round (their order reversed every other round); medians over the rounds.
"""

from __future__ import annotations

from typing import Any

from benchmarks import pgbench
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.servers import Server
from benchmarks.timing import median
from benchmarks.wrk import BookingLoad, WrkRun

WORKER_COUNTS = (1, 2, 4, 8)
CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128)
DECISION_CONNECTIONS = 32


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "per_second": median([r["ok_per_second"] for r in runs]),
        "p50_ms": median([r["p50_ms"] for r in runs]),
        "p99_ms": median([r["p99_ms"] for r in runs]),
        "per_second_rounds": [r["ok_per_second"] for r in runs],
        "non_2xx": sum(int(r["non_2xx"]) for r in runs),
        "unavailable": sum(int(r["unavailable"]) for r in runs),
        "socket_errors": sum(int(r["socket_errors"]) for r in runs),
        "timeouts": sum(int(r["timeouts"]) for r in runs),
        "requests": sum(int(r["requests"]) for r in runs),
    }


def _check(name: str, run: WrkRun) -> None:
    if run.non_2xx or run.socket_errors or run.timeouts:
        say(
            f"  {name}: {run.non_2xx} non-2xx ({run.refused} 409, {run.limited} 429, "
            f"{run.unavailable} 503, {run.other} other, e.g. {run.other_status}), "
            f"{run.socket_errors} socket errors, {run.timeouts} timeouts"
        )


def decide_workers(
    fleet: dict[tuple[int, bool], Server],
    load: BookingLoad,
    *,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    """Bookings/s at 32 connections per (workers, TCP_NODELAY); the best count."""
    for server in fleet.values():
        load.run(server.url, connections=DECISION_CONNECTIONS, seconds=1)  # warm
    runs: dict[tuple[int, bool], list[dict[str, float]]] = {key: [] for key in fleet}
    for round_number in range(rounds):
        keys = list(fleet) if round_number % 2 == 0 else list(reversed(fleet))
        for key in keys:
            run = load.run(
                fleet[key].url, connections=DECISION_CONNECTIONS, seconds=seconds
            )
            _check(fleet[key].name, run)
            runs[key].append(run.as_dict())
            say(
                f"workers, round {round_number + 1}/{rounds}, {fleet[key].name}: "
                f"{run.ok_per_second:.0f} bookings/s, p50 {run.p50_ms:.1f} ms"
            )
    table = {
        f"{workers}{'-nodelay' if nodelay else ''}": {
            "workers": workers,
            "nodelay": nodelay,
            **_summary(runs[(workers, nodelay)]),
        }
        for workers, nodelay in fleet
    }

    def best(nodelay: bool) -> int:
        return int(
            max(
                (row for row in table.values() if row["nodelay"] == nodelay),
                key=lambda row: row["per_second"],
            )["workers"]
        )

    return {
        "connections": DECISION_CONNECTIONS,
        "rounds": rounds,
        "seconds": seconds,
        "table": table,
        "best": best(True),
        "best_as_shipped": best(False),
    }


def nagle_check(
    shipped: Server, nodelay: Server, load: BookingLoad, *, seconds: float
) -> dict[str, Any]:
    """The bare app at one connection, with and without TCP_NODELAY: the 40 ms."""
    result = {}
    for name, server in (("as_shipped", shipped), ("nodelay", nodelay)):
        run = load.run(server.url, connections=1, seconds=seconds)
        result[name] = {
            "per_second": run.ok_per_second,
            "p50_ms": run.p50_ms,
            "p99_ms": run.p99_ms,
        }
        say(f"one connection, bare app {name}: p50 {run.p50_ms:.2f} ms")
    return result


def curve(
    services: Services,
    *,
    booking: Server,
    booking_shipped: Server,
    bare: Server,
    load: BookingLoad,
    one_row_event: int,
    user_min: int,
    rounds: int,
    seconds: float,
    levels: tuple[int, ...] = CONCURRENCY,
) -> dict[str, Any]:
    variants = ["booking", "booking_as_shipped", "bare", "pgbench_one_row"]
    servers = {"booking": booking, "booking_as_shipped": booking_shipped, "bare": bare}
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        name: {c: [] for c in levels} for name in variants
    }
    skipped: dict[int, str] = {}
    for server in servers.values():
        load.run(server.url, connections=8, seconds=1)  # warm
    for round_number in range(rounds):
        for connections in levels:
            order = variants if round_number % 2 == 0 else list(reversed(variants))
            for name in order:
                if name == "pgbench_one_row":
                    room = pgbench.max_clients()
                    if connections > room:
                        skipped[connections] = (
                            f"{connections} pgbench clients do not fit: the server takes "
                            f"{room} more connections now (max_connections)"
                        )
                        continue
                    bench = pgbench.run(
                        services,
                        pgbench.ONE_ROW_SCRIPT,
                        clients=connections,
                        seconds=seconds,
                        user_min=user_min,
                        event_min=one_row_event,
                        event_max=one_row_event,
                    )
                    result = {
                        "ok_per_second": bench.tps,
                        "p50_ms": bench.p50_ms,
                        "p99_ms": bench.p99_ms,
                        "non_2xx": 0,
                        "unavailable": 0,
                        "socket_errors": 0,
                        "timeouts": 0,
                        "requests": bench.transactions,
                    }
                else:
                    run = load.run(
                        servers[name].url, connections=connections, seconds=seconds
                    )
                    _check(servers[name].name, run)
                    result = run.as_dict()
                runs[name][connections].append(result)
                say(
                    f"curve, round {round_number + 1}/{rounds}, {connections} connections, "
                    f"{name}: {result['ok_per_second']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
                    f"p99 {result['p99_ms']:.1f} ms"
                )
    return {
        "levels": list(levels),
        "rounds": rounds,
        "seconds": seconds,
        "skipped": {str(c): why for c, why in skipped.items()},
        **{
            name: {str(c): _summary(runs[name][c]) for c in levels if runs[name][c]}
            for name in variants
        },
    }
