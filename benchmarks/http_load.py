"""Bookings through the local server against concurrency, with wrk.

First the worker count: the booking load at 32 connections on `ticketmania
serve --workers 1, 2, 4, 8`. Then, with the best count, one connection on the
server and on the bare FastAPI app under uvicorn, with TCP_NODELAY and as
uvicorn binds it (the ~40 ms per response that `ticketmania serve` lost to
Nagle's algorithm until it made its socket itself). Then the curve at 1..128
connections: the booking server, the bare app with the same workers (with
TCP_NODELAY, benchmarks/nodelay.py) and pgbench's one-row transaction with as
many clients. Variants alternate within each round (their order reversed every
other round); medians over the rounds.
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
    fleet: dict[int, Server],
    load: BookingLoad,
    *,
    rounds: int,
    seconds: float,
) -> dict[str, Any]:
    """Bookings/s at 32 connections per worker count; the best count."""
    for server in fleet.values():
        load.run(server.url, connections=DECISION_CONNECTIONS, seconds=1)  # warm
    runs: dict[int, list[dict[str, float]]] = {workers: [] for workers in fleet}
    for round_number in range(rounds):
        order = list(fleet) if round_number % 2 == 0 else list(reversed(fleet))
        for workers in order:
            server = fleet[workers]
            run = load.run(
                server.url, connections=DECISION_CONNECTIONS, seconds=seconds
            )
            _check(server.name, run)
            runs[workers].append(run.as_dict())
            say(
                f"workers, round {round_number + 1}/{rounds}, {server.name}: "
                f"{run.ok_per_second:.0f} bookings/s, p50 {run.p50_ms:.1f} ms"
            )
    table = {str(workers): _summary(runs[workers]) for workers in fleet}
    return {
        "connections": DECISION_CONNECTIONS,
        "rounds": rounds,
        "seconds": seconds,
        "table": table,
        "best": max(fleet, key=lambda workers: table[str(workers)]["per_second"]),
    }


def one_connection(
    servers: dict[str, Server], load: BookingLoad, *, seconds: float
) -> dict[str, Any]:
    """Each server at one connection: where Nagle and delayed ACK would show,
    ~40 ms per response."""
    result = {}
    for name, server in servers.items():
        run = load.run(server.url, connections=1, seconds=seconds)
        _check(server.name, run)
        result[name] = {
            "per_second": run.ok_per_second,
            "p50_ms": run.p50_ms,
            "p99_ms": run.p99_ms,
        }
        say(f"one connection, {server.name}: p50 {run.p50_ms:.2f} ms")
    return result


def curve(
    services: Services,
    *,
    booking: Server,
    bare: Server,
    load: BookingLoad,
    one_row_event: int,
    user_min: int,
    rounds: int,
    seconds: float,
    levels: tuple[int, ...] = CONCURRENCY,
) -> dict[str, Any]:
    variants = ["booking", "bare", "pgbench_one_row"]
    servers = {"booking": booking, "bare": bare}
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
