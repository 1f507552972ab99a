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
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from benchmarks import seed
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
            token = tokens[attempt % len(tokens)]
            request = (
                f"POST /bookings HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            sent = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            payload = await reader.readexactly(length) if length else b""
            answered = time.perf_counter()
            status = int(status_line.split()[1])
            code = ""
            if status >= 400:
                try:
                    code = str(json.loads(payload).get("code", ""))
                except ValueError:
                    code = "unreadable"
            answers.append(Answer(sent, answered, status, code))
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


def run(
    url: str,
    *,
    tokens: list[str],
    redis_url: str,
    seats: int = 1000,
    attempts: int = 10_000,
    connections: int = 64,
) -> dict[str, Any]:
    event_id = seed.create_event(total_seats=seats, title="Flash sale")
    cache = redis.Redis.from_url(redis_url)
    # Nothing else reads keys from the run's private Redis meanwhile: the keys a
    # booking attempt finds are the sold-out marker (the generation key is only
    # written when seats are given back, which no one does here).
    hits_before = int(cache.info("stats")["keyspace_hits"])
    start = time.perf_counter()
    answers = asyncio.run(_sale(url, tokens, event_id, attempts, connections))
    elapsed = time.perf_counter() - start
    marker_hits = int(cache.info("stats")["keyspace_hits"]) - hits_before
    booked, unsold, counted = seed.seats_of(event_id)
    marker = bool(cache.exists(f"seats:sold-out:{event_id}"))

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
    unexpected = {k: v for k, v in outcomes.items() if k not in ("201", "409 sold_out")}
    if unexpected:
        problems.append(f"answers other than 201 and 409 sold_out: {unexpected}")

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
        "marker_hits": marker_hits,
        "elapsed_s": elapsed,
        "problems": problems,
    }
    if made:
        sold_out_at = made[-1].answered
        after = [a for a in answers if a.sent >= sold_out_at and a.status == 409]
        window = max(a.answered for a in answers) - sold_out_at
        before = [a for a in answers if a.sent < sold_out_at]
        result.update(
            {
                "seconds_to_sell_out": sold_out_at - start,
                "attempts_until_sold_out": len(before),
                "booking_p50_ms": median([(a.answered - a.sent) * 1000 for a in made]),
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
