"""A surge far past the server's connection limit: simulated Lambda containers
booking, holding and cancelling on one hot event, through a transaction
pooler and directly.

Each container is a thread with an engine of its own holding one connection,
built as a Lambda container builds it (`AWS_LAMBDA_FUNCTION_NAME` set: one
connection, no overflow), answering its requests through BookingsFunction's
own handler, fed API Gateway events, one request at a time and back to back.
The containers are spread over a few processes, as many in every run, so the
runs differ only in how many containers there are and where they connect:

- `direct`: max_connections / 2 containers straight to Postgres (the baseline);
- `pooled`: 5 x max_connections containers through PgBouncer in transaction
  mode with `POOL_SIZE` server connections;
- `direct_overload`: 5 x max_connections containers straight to Postgres,
  where most connections are refused: those requests must be 503
  `unavailable` with Retry-After, never 500, and nothing may be lost.

After each run the event's seats are checked against its bookings, and the
bookings against the answers: every 201 a booking in the database, every
booking one a 201 named, unsold + confirmed + held = total.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import seed
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.timing import median, percentile
from tests.services import PgBouncer

PROCESSES = 4
# Server connections the pooler shares among all the containers.
POOL_SIZE = 20
HOT_EVENT_SEATS = 50_000_000


@dataclass(frozen=True)
class Plan:
    database_url: str
    event_id: int
    tokens: list[str]
    start_at: float
    end_at: float
    seed: int


def _container_loop(plan: Plan, token: str, index: int, out: dict[str, Any]) -> None:
    # Imported here, in the worker process, after its environment is set.
    from bookings.app import handler
    from tests.lambda_events import invoke, load_event, with_overrides

    create = load_event("http_api_bookings_create")
    cancel = load_event("http_api_bookings_cancel")
    rng = random.Random(plan.seed * 100_003 + index)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    created: list[int] = []
    cancelled: list[int] = []
    retry_after_missing = 0
    booked_in_window = 0
    mine: list[int] = []

    def call(kind: str, event: dict[str, Any]) -> Any:
        nonlocal retry_after_missing
        began = time.time()
        started = time.perf_counter()
        response = invoke(handler, event)
        elapsed = (time.perf_counter() - started) * 1000
        statuses[f"{kind} {response.status}"] += 1
        if kind == "book" and plan.start_at <= began < plan.end_at:
            latencies.append(elapsed)
        if response.status == 503 and "retry-after" not in response.headers:
            retry_after_missing += 1
        return response

    def book(*, hold: bool) -> None:
        nonlocal booked_in_window
        body: dict[str, Any] = {"event_id": plan.event_id, "seats_booked": 1}
        if hold:
            body["hold"] = True
        began = time.time()
        # A key of its own, as a client sends with each new booking.
        key = {"idempotency-key": f"surge-{plan.seed}-{index}-{rng.getrandbits(64)}"}
        response = call(
            "book", with_overrides(create, token=token, body=body, headers=key)
        )
        if response.status == 201:
            if plan.start_at <= began < plan.end_at:
                booked_in_window += 1
            booking_id = int(response.json()["id"])
            created.append(booking_id)
            mine.append(booking_id)

    def cancel_one() -> None:
        if not mine:
            book(hold=False)
            return
        booking_id = mine.pop(rng.randrange(len(mine)))
        event = with_overrides(
            cancel, token=token, path_parameters={"id": str(booking_id)}
        )
        response = call("cancel", event)
        if response.status == 200:
            cancelled.append(booking_id)
        else:
            mine.append(booking_id)

    # The cold start: the first request opens the container's connection.
    book(hold=False)
    time.sleep(max(0.0, plan.start_at - time.time()))
    while time.time() < plan.end_at:
        roll = rng.random()
        if roll < 0.6:
            book(hold=False)
        elif roll < 0.8:
            book(hold=True)
        else:
            cancel_one()
    out[str(index)] = {
        "statuses": dict(statuses),
        "latencies": latencies,
        "created": created,
        "cancelled": cancelled,
        "retry_after_missing": retry_after_missing,
        "booked_in_window": booked_in_window,
    }


def _worker(plan: Plan, indexes: list[int], results: Any) -> None:
    """One process's containers, each a thread with its own engine."""
    os.environ["DATABASE_URL"] = plan.database_url
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "surge-bookings"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
    # The handler's metrics go to stdout, which carries the run's results.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the process's life
    from sqlalchemy.orm import sessionmaker

    from ticketmania.db import engine as database
    from ticketmania.settings import get_settings

    # Every container its own engine, as each Lambda container has: the
    # sessions a request opens are bound to its thread's.
    local = threading.local()
    database._session_factory = lambda: local.factory  # type: ignore[assignment]

    out: dict[str, Any] = {}

    def container(index: int) -> None:
        engine = database.build_engine(get_settings())
        local.factory = sessionmaker(bind=engine, expire_on_commit=False)
        try:
            _container_loop(plan, plan.tokens[index], index, out)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=container, args=(i,)) for i in indexes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(out)


def _play(plan: Plan, containers: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    share = [list(range(p, containers, PROCESSES)) for p in range(PROCESSES)]
    processes = [
        context.Process(target=_worker, args=(plan, indexes, results))
        for indexes in share
    ]
    for process in processes:
        process.start()
    merged: dict[str, Any] = {}
    deadline = plan.end_at + 600
    received = 0
    while received < len(processes):
        try:
            merged.update(results.get(timeout=5))
            received += 1
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead or time.time() > deadline:
                for process in processes:
                    process.kill()
                raise RuntimeError(
                    f"a container process failed (exit {dead})"
                ) from None
    for process in processes:
        process.join(60)
    return merged


def _summary(per_container: dict[str, Any], seconds: float) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    for answer in per_container.values():
        statuses.update(answer["statuses"])
        latencies += answer["latencies"]
    booked = sum(answer["booked_in_window"] for answer in per_container.values())
    server_errors = sum(n for key, n in statuses.items() if key.split()[1] >= "500")
    return {
        "statuses": dict(sorted(statuses.items())),
        "bookings_per_second": booked / seconds,
        "booking_p50_ms": percentile(latencies, 0.5) if latencies else None,
        "booking_p99_ms": percentile(latencies, 0.99) if latencies else None,
        "server_errors": server_errors,
        "internal_errors": sum(
            n for key, n in statuses.items() if key.split()[1] == "500"
        ),
        "unavailable_without_retry_after": sum(
            a["retry_after_missing"] for a in per_container.values()
        ),
    }


def _seats_check(event_id: int, per_container: dict[str, Any]) -> dict[str, Any]:
    """The event's books against the answers (nothing lost, nothing invented)."""
    from ticketmania.db.engine import get_engine

    created = {b for a in per_container.values() for b in a["created"]}
    cancelled = {b for a in per_container.values() for b in a["cancelled"]}
    with get_engine().connect() as connection:
        total, unsold = connection.execute(
            text(
                "SELECT total_seats, (SELECT sum(available) FROM seat_shards "
                "WHERE event_id = e.id) FROM events e WHERE id = :id"
            ),
            {"id": event_id},
        ).one()
        rows = connection.execute(
            text("SELECT id, status, seats_booked FROM bookings WHERE event_id = :id"),
            {"id": event_id},
        ).all()
    taken = sum(r.seats_booked for r in rows if r.status in ("confirmed", "held"))
    in_database = {r.id for r in rows}
    live = {r.id for r in rows if r.status in ("confirmed", "held")}
    return {
        "bookings_answered_201": len(created),
        "bookings_in_database": len(in_database),
        "seats_lost": int(total) - int(unsold) - taken,
        "unanswered_bookings": len(in_database - created),
        "answered_but_missing": len(created - in_database),
        "live_bookings_mismatch": len(live ^ (created - cancelled)),
    }


def run(services: Services, *, seconds: float, rounds: int) -> dict[str, Any]:
    from ticketmania.db.engine import get_engine

    with get_engine().connect() as connection:
        max_connections = int(connection.scalar(text("SHOW max_connections")))
    direct_containers = max_connections // 2
    surge_containers = 5 * max_connections
    users = seed.create_users(surge_containers)
    tokens = [seed.token(user) for user in users]
    server_url = (
        make_url(services.database_url)
        .set(database="postgres")
        .render_as_string(hide_password=False)
    )
    pooler = PgBouncer(
        server_url, pool_size=POOL_SIZE, max_clients=surge_containers + 50
    ).start()
    pooled_url = pooler.url_for(services.database_name)
    get_engine().dispose()  # the runs get every connection the server has
    runs: dict[str, list[dict[str, Any]]] = {
        "direct": [],
        "pooled": [],
        "direct_overload": [],
    }
    kinds = {
        "direct": (services.database_url, direct_containers),
        "pooled": (pooled_url, surge_containers),
        "direct_overload": (services.database_url, surge_containers),
    }
    try:
        order = ["direct", "pooled"] * rounds + ["direct_overload"]
        for number, kind in enumerate(order):
            url, containers = kinds[kind]
            event_id = seed.create_event(total_seats=HOT_EVENT_SEATS, title="Surge")
            get_engine().dispose()
            say(f"surge: {kind}, {containers} containers, {seconds:.0f} s")
            # Time for every process to start and every container's cold start.
            start_at = time.time() + 10 + containers / 50
            plan = Plan(
                database_url=url,
                event_id=event_id,
                tokens=tokens[:containers],
                start_at=start_at,
                end_at=start_at + seconds,
                seed=number,
            )
            per_container = _play(plan, containers)
            runs[kind].append(
                {
                    "containers": containers,
                    **_summary(per_container, seconds),
                    **_seats_check(event_id, per_container),
                }
            )
            get_engine().dispose()
    finally:
        pooler.stop()
    return {
        "max_connections": max_connections,
        "pool_size": POOL_SIZE,
        "processes": PROCESSES,
        "seconds": seconds,
        "rounds": rounds,
        "pgbouncer": ".".join(map(str, PgBouncer.version() or ())),
        "runs": runs,
        "throughput_ratio": median([r["bookings_per_second"] for r in runs["pooled"]])
        / max(median([r["bookings_per_second"] for r in runs["direct"]]), 1e-9),
    }


def statement_protocols(
    services: Services, *, user_min: int, clients: int, seconds: float, rounds: int
) -> dict[str, Any]:
    """The booking statement three ways, on 64 events, rounds alternating: as
    the functions send it (a call of its server function, unnamed: pgbench `-M
    extended`); its text unnamed (parsed and planned on every call: what a
    pooler leaves without the function); and its text prepared once per
    connection under a name (`-M prepared`: what the functions sent before,
    wrong behind a transaction pooler)."""
    from benchmarks import hot_spread, pgbench
    from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD
    from ticketmania.db.server_functions import server_form

    events = seed.create_events(
        hot_spread.EVENTS_SPREAD, total_seats=hot_spread.SEATS, title="Protocol"
    )
    names = list(dict.fromkeys(re.findall(r"(?<![:\w]):(\w+)", BOOK_FROM_ONE_SHARD)))
    call = (
        f"SELECT * FROM {server_form(BOOK_FROM_ONE_SHARD).function}("
        + ", ".join(f":{name}" for name in names)
        + ")"
    )
    variants = {
        "function": (pgbench.booking_statement_script(call), "extended"),
        "unnamed": (pgbench.booking_statement_script(BOOK_FROM_ONE_SHARD), "extended"),
        "prepared": (pgbench.booking_statement_script(BOOK_FROM_ONE_SHARD), "prepared"),
    }
    tps: dict[str, list[float]] = {name: [] for name in variants}
    p50: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (script, protocol) in variants.items():
            measured = pgbench.run(
                services,
                script,
                clients=clients,
                seconds=seconds,
                user_min=user_min,
                event_min=events[0],
                event_max=events[-1],
                protocol=protocol,
            )
            tps[name].append(measured.tps)
            p50[name].append(measured.p50_ms)
    prepared = median(tps["prepared"])
    return {
        "clients": clients,
        "seconds": seconds,
        "rounds": rounds,
        "tps": tps,
        "p50_ms": p50,
        "function_vs_prepared": median(tps["function"]) / prepared,
        "unnamed_vs_prepared": median(tps["unnamed"]) / prepared,
    }
