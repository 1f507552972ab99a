"""`make bench`: run every benchmark once and write BENCHMARKS.md, its chart and
benchmarks/results.json from this run (progress on stderr, the results' tables on stdout)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (
    "layers/shared",
    "functions/auth",
    "functions/events",
    "functions/bookings",
    ".",
):
    sys.path.insert(0, str(ROOT / folder))

CHART = Path("docs/bookings-vs-concurrency.png")
HTTP_USERS = 500


def _section(results: dict[str, Any], name: str, run: Callable[[], Any]) -> Any:
    """Run one benchmark; a failure is recorded (and reported), never papered over."""
    from benchmarks.progress import elapsed_seconds, say

    say(f"{name}: start")
    started = elapsed_seconds()
    try:
        value = run()
    except Exception as exc:
        say(f"{name}: FAILED: {exc}")
        traceback.print_exc(file=sys.stderr)
        results.setdefault("failures", {})[name] = f"{type(exc).__name__}: {exc}"
        return None
    results.setdefault("section_seconds", {})[name] = elapsed_seconds() - started
    say(f"{name}: done in {elapsed_seconds() - started:.0f} s")
    if value is not None:
        results[name] = value
    return value


def _machine() -> dict[str, Any]:
    from sqlalchemy import text

    from ticketmania.db.engine import get_engine

    with get_engine().connect() as connection:
        postgres = connection.scalar(text("SHOW server_version"))
        settings = {
            str(name): str(setting)
            for name, setting in connection.execute(
                text(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('max_connections', 'synchronous_commit', 'shared_buffers', 'fsync')"
                )
            )
        }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(git("status", "--porcelain").splitlines()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": postgres,
        "postgres_settings": settings,
        "load_average_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: fewer and shorter rounds"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write BENCHMARKS.md, the chart and results.json "
        "(default: the repository; a temporary folder with --quick)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: write BENCHMARKS.md and the chart again from a "
        "run's results.json (after a change to the report's wording)",
    )
    args = parser.parse_args()
    if args.render:
        _write(json.loads(args.render.read_text()), args.out or ROOT, keep_results=True)
        return 0
    quick = args.quick
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench-quick-")) if quick else ROOT)

    from benchmarks import (
        artefact,
        checkins,
        flash_sale,
        flash_sale_holds,
        hot_spread,
        http_load,
        listing,
        lock_statements,
        orders,
        pgbench,
        report,
        seed,
        servers,
        surge,
        waiting_room,
    )
    from benchmarks import cpu as cpu_bench
    from benchmarks.environment import THROUGHPUT_SETTINGS, benchmark_environment
    from benchmarks.progress import elapsed_seconds, say
    from benchmarks.wrk import BookingLoad, ensure_wrk

    ensure_wrk()
    pgbench.ensure_pgbench()
    results: dict[str, Any] = {"quick": quick}
    # Powertools prints EMF metrics to stdout as handlers run; stdout carries
    # only the results, printed at the end.
    real_stdout = sys.stdout
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        benchmark_environment() as services,
    ):
        results["machine"] = _machine()
        say(f"database {services.database_name}, Redis {services.redis_url}")
        http_users = seed.create_users(HTTP_USERS)
        tokens = [seed.token(user) for user in http_users]
        bench_users = seed.create_users(
            pgbench.USERS_PER_CLIENT * max(http_load.CONCURRENCY)
        )

        _section(
            results,
            "listing",
            lambda: _listing(listing, repeat=50 if quick else 400),
        )
        cpu_event = seed.create_event(total_seats=10_000_000, title="CPU")
        _section(
            results,
            "cpu",
            lambda: {
                **cpu_bench.measure(
                    tokens=tokens[:20],
                    event_id=cpu_event,
                    rounds=2 if quick else 10,
                    calls_per_round=20 if quick else 100,
                ),
                "listing_statements_per_20_calls": cpu_bench.listing_statements(),
                "booking_breakdown_ms": cpu_bench.booking_breakdown(
                    tokens=tokens[:20], event_id=cpu_event, calls=100 if quick else 1000
                ),
            },
        )
        _section(
            results,
            "statements",
            lambda: lock_statements.measure(token=tokens[0], user_id=http_users[0]),
        )
        from ticketmania.db.engine import get_engine

        get_engine().dispose()  # its idle connections would count against pgbench's
        _section(
            results,
            "hot_spread",
            lambda: hot_spread.measure(
                services,
                user_min=bench_users[0],
                clients=(16, 32, 64),
                rounds=1 if quick else 3,
                seconds=2 if quick else 4,
            ),
        )

        # Orders at the database: the order statement hot and spread, and the
        # one-type booking statement against the one before ticket types.
        _section(
            results,
            "orders_database",
            lambda: orders.database(
                services,
                user_min=bench_users[0],
                clients=(16, 32),
                rounds=1 if quick else 5,
                seconds=2 if quick else 4,
            ),
        )
        get_engine().dispose()

        hot_event = seed.create_event(total_seats=50_000_000, title="Hot")
        (one_row_event,) = seed.create_one_row_events(1, seats=1_000_000_000)
        load = BookingLoad(tokens=tokens, event_id=hot_event)
        server_env = {**os.environ}
        fleet: dict[int, servers.Server] = {}
        others: list[servers.Server] = []
        try:
            say("starting ticketmania serve with 1, 2, 4, 8 workers")
            for workers in http_load.WORKER_COUNTS:
                fleet[workers] = servers.ticketmania_serve(
                    env=server_env, workers=workers
                ).start()
            for server in fleet.values():
                server.wait_ready()
            decision = _section(
                results,
                "workers",
                lambda: {
                    **http_load.decide_workers(
                        fleet,
                        load,
                        rounds=1 if quick else 3,
                        seconds=2 if quick else 4,
                    ),
                    "cli_default": _cli_default_workers(),
                },
            )
            best = decision["best"] if decision else _cli_default_workers()
            for workers in list(fleet):
                if workers != best:
                    fleet.pop(workers).stop()
            bare = servers.bare_uvicorn(env=server_env, workers=best).start()
            bare_as_bound = servers.bare_uvicorn(
                env=server_env, workers=best, nodelay=False
            ).start()
            others += [bare, bare_as_bound]
            bare.wait_ready()
            bare_as_bound.wait_ready()
            _section(
                results,
                "one_connection",
                lambda: {
                    "workers": best,
                    **http_load.one_connection(
                        {
                            "booking": fleet[best],
                            "bare": bare,
                            "bare_as_uvicorn_binds_it": bare_as_bound,
                        },
                        load,
                        seconds=2,
                    ),
                },
            )
            others.remove(bare_as_bound)
            bare_as_bound.stop()
            _section(
                results,
                "curve",
                lambda: {
                    "workers": best,
                    **http_load.curve(
                        services,
                        booking=fleet[best],
                        bare=bare,
                        load=load,
                        one_row_event=one_row_event,
                        user_min=bench_users[0],
                        rounds=1 if quick else 3,
                        seconds=2 if quick else 3,
                    ),
                },
            )
            others.remove(bare)
            bare.stop()
            _section(
                results,
                "orders_http",
                lambda: {
                    "workers": best,
                    **orders.http(
                        fleet[best],
                        tokens,
                        connections=32,
                        rounds=1 if quick else 9,
                        seconds=2 if quick else 3,
                    ),
                },
            )
        finally:
            for server in [*fleet.values(), *others]:
                server.stop()
            load.close()
        # The flash sale runs on a fresh server with the product's own per-user
        # cap and booking rate limit (its 20 attempts per user stay under both).
        sale_env = {
            name: value
            for name, value in server_env.items()
            if name not in THROUGHPUT_SETTINGS
        }
        _section(
            results,
            "flash_sale",
            lambda: {
                "workers": best,
                "defaults": _sale_defaults(),
                **flash_sale.run(
                    services,
                    lambda: servers.ticketmania_serve(env=sale_env, workers=best),
                ),
            },
        )
        # The same sale with holds and a waitlist (holds of 30 s).
        holds_env = {**sale_env, "HOLD_SECONDS": str(flash_sale_holds.HOLD_SECONDS)}
        _section(
            results,
            "flash_sale_holds",
            lambda: {
                "workers": best,
                **flash_sale_holds.run(
                    services,
                    lambda: servers.ticketmania_serve(env=holds_env, workers=best),
                ),
            },
        )
        # The door: check-ins through a fresh server, as many workers as bookings had.
        _section(
            results,
            "checkins",
            lambda: {
                "workers": best,
                **checkins.run(
                    services,
                    lambda: servers.ticketmania_serve(env=sale_env, workers=best),
                    tickets=600 if quick else 3000,
                ),
            },
        )
        # The waiting room: 10,000 joins at once for 1,000 seats, and the same
        # surge with the room off, on a fresh server with its jobs (the inlet).
        room_env = {**sale_env, "TICKETMANIA_JOBS": "on"}
        _section(
            results,
            "waiting_room",
            lambda: {
                "workers": best,
                **waiting_room.run(
                    services,
                    lambda: servers.ticketmania_serve(env=room_env, workers=best),
                    buyers=2000 if quick else waiting_room.BUYERS,
                    seats=200 if quick else waiting_room.SEATS,
                ),
            },
        )
        # A surge far past max_connections, through a transaction pooler and
        # directly; and what the booking statement costs unnamed against prepared.
        _section(
            results,
            "surge",
            lambda: surge.run(
                services, seconds=4 if quick else 10, rounds=1 if quick else 2
            ),
        )
        get_engine().dispose()
        _section(
            results,
            "statement_protocols",
            lambda: surge.statement_protocols(
                services,
                user_min=bench_users[0],
                clients=16,
                seconds=2 if quick else 4,
                rounds=1 if quick else 3,
            ),
        )
        # The built functions, as Lambda starts them (`make bench` builds first).
        _section(
            results,
            "artefact",
            lambda: artefact.measure(
                ROOT / ".aws-sam" / "build",
                runs=2 if quick else 7,
                quota_runs=1 if quick else 5,
            ),
        )
    results["machine"]["load_average_end"] = os.getloadavg()
    results["total_seconds"] = elapsed_seconds()
    _write(results, out, keep_results=False)
    print(report.results_section(results), file=real_stdout)
    say(f"total {time.strftime('%M:%S', time.gmtime(elapsed_seconds()))}")
    return 1 if results.get("failures") else 0


def _write(results: dict[str, Any], out: Path, *, keep_results: bool) -> None:
    """BENCHMARKS.md, the chart and (unless they are being re-rendered) results.json."""
    from benchmarks import chart, report
    from benchmarks.progress import say

    out.mkdir(parents=True, exist_ok=True)
    if not keep_results:
        (out / "benchmarks").mkdir(exist_ok=True)
        (out / "benchmarks" / "results.json").write_text(
            json.dumps(results, indent=1, default=str) + "\n"
        )
    if "curve" in results:
        chart.draw(
            results["curve"],
            workers=results["curve"]["workers"],
            path=out / CHART,
            subtitle=f"{results['machine']['cpus']} cores shared by wrk, the server and Postgres; "
            f"{results['machine']['date']}",
        )
    (out / "BENCHMARKS.md").write_text(report.render(results, chart=CHART))
    say(f"wrote {out / 'BENCHMARKS.md'} and {out / CHART}")


def _cli_default_workers() -> int:
    from localdev.cli import DEFAULT_WORKERS

    return DEFAULT_WORKERS


def _sale_defaults() -> dict[str, str]:
    from ticketmania.settings import Settings

    fields = Settings.model_fields
    return {
        "max_seats_per_user_per_event": str(
            fields["max_seats_per_user_per_event"].default
        ),
        "rate_limit_booking": str(fields["rate_limit_booking"].default),
    }


def _listing(listing: Any, *, repeat: int) -> dict[str, Any]:
    hit, miss = listing.measure(event_count=100_000, repeat=repeat)
    return {
        "events": 100_000,
        "calls": repeat,
        "hit_median_ms": hit.median_ms,
        "hit_p99_ms": hit.p99_ms,
        "miss_median_ms": miss.median_ms,
        "miss_p99_ms": miss.p99_ms,
    }


if __name__ == "__main__":
    sys.exit(main())
