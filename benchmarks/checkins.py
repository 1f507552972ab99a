"""The door's rush: check-ins per second through the local server, one event,
16 scanners (keep-alive connections), each admitting tickets one after
another, every ticket a different confirmed booking's code, then every code
scanned a second time (the repeats a crowded door produces).

Checked in the database afterwards: one check-in per booking, none twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text

from benchmarks import raw_http, seed
from benchmarks.environment import Services
from benchmarks.servers import Server
from benchmarks.timing import median, percentile


def _bookings(event_id: int, users: list[int]) -> list[tuple[int, int]]:
    """One confirmed booking of 2 seats per user, written straight into the
    database; (booking id, seats) each."""
    from ticketmania.db.engine import get_engine

    with get_engine().begin() as connection:
        rows = connection.execute(
            text(
                "INSERT INTO bookings (user_id, event_id, seats_booked, status) "
                "SELECT id, :event_id, 2, 'confirmed' FROM unnest(CAST(:users AS bigint[])) AS id "
                "RETURNING id, seats_booked"
            ),
            {"event_id": event_id, "users": users},
        ).all()
    return [(int(row[0]), int(row[1])) for row in rows]


def _codes(event_id: int, bookings: list[tuple[int, int]]) -> list[str]:
    from ticketmania import tickets
    from ticketmania.db import ticket_types
    from ticketmania.db.engine import open_session

    ring = tickets.get_key_ring()
    now = datetime.now(UTC)
    with open_session() as session:
        default = ticket_types.default_of(session, event_id)
    assert default is not None  # the bench's events keep their default type
    return [
        tickets.sign(
            ring,
            tickets.TicketClaims(
                booking_id=booking_id,
                event_id=event_id,
                seats=seats,
                issued_at=now,
                lines=((default.id, seats),),
            ),
        )
        for booking_id, seats in bookings
    ]


async def _scanner(
    host: str,
    port: int,
    codes: Iterator[str],
    token: str,
    event_id: int,
    answers: list[tuple[float, int, str]],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for code in codes:
            exchange = await raw_http.post(
                reader,
                writer,
                host=host,
                path="/checkins",
                token=token,
                body=json.dumps({"code": code, "event_id": event_id}).encode(),
            )
            status, payload = exchange.status, exchange.body
            code_seen = (
                "" if status == 200 else str(json.loads(payload).get("code", ""))
            )
            answers.append((exchange.answered - exchange.sent, status, code_seen))
    finally:
        writer.close()


async def _rush(
    url: str, codes: list[str], token: str, event_id: int, scanners: int
) -> tuple[list[tuple[float, int, str]], float]:
    parts = urlsplit(url)
    answers: list[tuple[float, int, str]] = []
    queue = iter(codes)  # shared: each scan is made once
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _scanner(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                queue,
                token,
                event_id,
                answers,
            )
            for _ in range(scanners)
        )
    )
    return answers, time.perf_counter() - start


def run(
    services: Services,
    start_server: Callable[[], Server],
    *,
    tickets: int = 3000,
    scanners: int = 16,
) -> dict[str, Any]:
    from ticketmania.db.engine import get_engine

    event_id = seed.create_event(total_seats=tickets * 2, title="The door")
    bookings = _bookings(event_id, seed.create_users(tickets))
    codes = _codes(event_id, bookings)
    (door,) = seed.create_users(1)
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE users SET role = 'staff' WHERE id = :id"), {"id": door}
        )
    token = seed.token(door)
    server = start_server().start()
    try:
        server.wait_ready()
        first, first_s = asyncio.run(
            _rush(server.url, codes, token, event_id, scanners)
        )
        again, again_s = asyncio.run(
            _rush(server.url, codes, token, event_id, scanners)
        )
    finally:
        server.stop()
    with get_engine().connect() as connection:
        admitted = int(
            connection.scalar(
                text("SELECT count(*) FROM checkins WHERE event_id = :id"),
                {"id": event_id},
            )
            or 0
        )
    problems = []
    first_outcomes = Counter(f"{status} {code}".strip() for _, status, code in first)
    again_outcomes = Counter(f"{status} {code}".strip() for _, status, code in again)
    if first_outcomes != {"200": tickets}:
        problems.append(f"first scans answered {dict(first_outcomes)}")
    if again_outcomes != {"409 already_checked_in": tickets}:
        problems.append(f"second scans answered {dict(again_outcomes)}")
    if admitted != tickets:
        problems.append(f"{admitted} check-ins in the database for {tickets} tickets")
    return {
        "tickets": tickets,
        "scanners": scanners,
        "checkins_per_second": tickets / first_s,
        "checkin_p50_ms": median([seconds * 1000 for seconds, _, _ in first]),
        "checkin_p99_ms": percentile([seconds * 1000 for seconds, _, _ in first], 0.99),
        "repeats_per_second": tickets / again_s,
        "repeat_p50_ms": median([seconds * 1000 for seconds, _, _ in again]),
        "outcomes": {"first": dict(first_outcomes), "again": dict(again_outcomes)},
        "admitted": admitted,
        "problems": problems,
    }
