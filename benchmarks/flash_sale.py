"""Flash sale: 10,000 booking attempts from 500 users on ONE event of 1,000 seats,
through the local server, 64 connections at once.

The client is a small asyncio HTTP/1.1 keep-alive client (one coroutine per
connection, one event loop): it sends exactly the attempts asked for and notes
when each was sent and answered, and its status and error code. Checked in
the database afterwards: confirmed seats, unsold seats, the per-user counts.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from benchmarks import raw_http, seed
from benchmarks.environment import Services
from benchmarks.servers import Server
from benchmarks.timing import median, percentile


@dataclass(frozen=True)
class Answer:
    sent: float
    answered: float
    status: int
    code: str


async def _connection(
    host: str,
    port: int,
    next_attempt: Any,
    tokens: list[str],
    body: bytes,
    answers: list[Answer],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for attempt in next_attempt:
            exchange = await raw_http.post(
                reader,
                writer,
                host=host,
                path="/bookings",
                token=tokens[attempt % len(tokens)],
                body=body,
            )
            status, payload = exchange.status, exchange.body
            code = ""
            if status >= 400:
                try:
                    code = str(json.loads(payload).get("code", ""))
                except ValueError:
                    code = "unreadable"
            answers.append(Answer(exchange.sent, exchange.answered, status, code))
    finally:
        writer.close()


async def _sale(
    url: str, tokens: list[str], event_id: int, attempts: int, connections: int
) -> list[Answer]:
    parts = urlsplit(url)
    body = json.dumps({"event_id": event_id, "seats_booked": 1}).encode()
    answers: list[Answer] = []
    attempt_numbers = iter(range(attempts))  # shared: each attempt is sent once
    await asyncio.gather(
        *(
            _connection(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                attempt_numbers,
                tokens,
                body,
                answers,
            )
            for _ in range(connections)
        )
    )
    return answers


def database_transactions(services: Services) -> int:
    """Transactions ended in the benchmark's database so far, by every backend
    whose statistics have been flushed (a backend flushes when it exits).
    Read through psql, whose own transaction is counted when it exits."""
    done = subprocess.run(
        [
            "psql",
            *services.pg_args(),
            "-Atc",
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()",
        ],
        capture_output=True,
        text=True,
        env=services.pg_env(),
        check=True,
    )
    return int(done.stdout.strip())


def run(
    services: Services,
    start_server: Callable[[], Server],
    *,
    users: int = 500,
    seats: int = 1000,
    attempts: int = 10_000,
    connections: int = 64,
) -> dict[str, Any]:
    """One sale on a freshly started server, which is stopped afterwards, so
    that its connections' statistics are flushed: the transactions Postgres saw
    during the sale are then counted (give or take the server's readiness
    checks), which says how many attempts reached the database at all."""
    from ticketmania.db.engine import get_engine

    # Users of its own: the throughput runs have filled the other users'
    # rate-limit windows.
    tokens = [seed.token(user) for user in seed.create_users(users)]
    event_id = seed.create_event(total_seats=seats, title="Flash sale")
    server = start_server().start()
    try:
        server.wait_ready()
        get_engine().dispose()  # this process's connections flush their statistics
        transactions_before = database_transactions(services)
        start = time.perf_counter()
        answers = asyncio.run(
            _sale(server.url, tokens, event_id, attempts, connections)
        )
        elapsed = time.perf_counter() - start
    finally:
        server.stop()
    # Less the psql that read the count before.
    transactions = database_transactions(services) - transactions_before - 1
    booked, unsold, counted = seed.seats_of(event_id)
    from ticketmania.sold_out import marker_keys

    marker = bool(
        redis.Redis.from_url(services.redis_url).exists(marker_keys(event_id)[0])
    )

    outcomes = Counter(f"{a.status} {a.code}".strip() for a in answers)
    made = sorted(
        (a for a in answers if 200 <= a.status < 300), key=lambda a: a.answered
    )
    problems = []
    if len(answers) != attempts:
        problems.append(f"{len(answers)} answers to {attempts} attempts")
    if booked != seats:
        problems.append(f"{booked} seats confirmed in the database, not {seats}")
    if unsold != 0:
        problems.append(f"{unsold} seats left unsold in the shards")
    if counted != booked:
        problems.append(f"user_event_seats counts {counted} seats, bookings {booked}")
    if len(made) != booked:
        problems.append(f"{len(made)} 2xx answers for {booked} seats booked")
    failed = {
        k: v for k, v in outcomes.items() if not k.startswith(("2", "409", "429"))
    }
    if failed:
        problems.append(f"answers that are neither bookings nor refusals: {failed}")

    result: dict[str, Any] = {
        "event_id": event_id,
        "seats": seats,
        "attempts": attempts,
        "users": len(tokens),
        "connections": connections,
        "answers": len(answers),
        "outcomes": dict(outcomes),
        "confirmed_seats": booked,
        "unsold_seats": unsold,
        "marker_set": marker,
        "database_transactions": transactions,
        "elapsed_s": elapsed,
        "problems": problems,
        "sold_out": len(made) == seats and unsold == 0,
    }
    if made:
        result["booking_p50_ms"] = median([(a.answered - a.sent) * 1000 for a in made])
    if result["sold_out"]:
        sold_out_at = made[-1].answered
        after = [a for a in answers if a.sent >= sold_out_at and a.status == 409]
        window = max(a.answered for a in answers) - sold_out_at
        before = [a for a in answers if a.sent < sold_out_at]
        result.update(
            {
                "seconds_to_sell_out": sold_out_at - start,
                "attempts_until_sold_out": len(before),
                "refusals_after": len(after),
                "refusals_after_window_s": window,
                "refusals_per_second": len(after) / window if window > 0 else None,
                "refusal_p50_ms": median([(a.answered - a.sent) * 1000 for a in after])
                if after
                else None,
                "refusal_p99_ms": percentile(
                    [(a.answered - a.sent) * 1000 for a in after], 0.99
                )
                if after
                else None,
            }
        )
    return result
