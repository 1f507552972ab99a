"""A surge at the on-sale, with the waiting room on and off, in the same run.

10,000 buyers (users of their own) on ONE event of 1,000 seats, through a
fresh `ticketmania serve` with its scheduled jobs (the inlet every second):

- Room on. Every buyer's `POST /events/{id}/queue` is written at once, spread
  over 200 keep-alive connections (HTTP/1.1 pipelining: all sent before the
  first is answered), a second before `on_sale_at`, so the joins are the
  pre-queue that the on-sale places by one random draw. Then a client does
  what a buyer's page does: it reads `GET /events/{id}/queue` every 200 ms
  and, as `serving` passes positions, in position order, each of those
  buyers reads `GET .../queue/me` for the token and books one seat with it
  (16 connections), until the seats are gone.
- Room off. The same 10,000 buyers' `POST /bookings` on another event of
  1,000 seats, written at once over the same 200 connections.

Checked: every join answered, none 5xx; positions exactly 1..N (Redis's
hash read afterwards); exactly 1,000 seats sold; Kendall's tau between the
buyers' positions and the order their purchases were answered in; bookings
per second at the database (bookings.created_at) against what the inlet let
in per second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import redis
from sqlalchemy import text

from benchmarks import raw_http, seed
from benchmarks.environment import Services
from benchmarks.progress import say
from benchmarks.servers import Server
from benchmarks.timing import median, percentile

BUYERS = 10_000
SEATS = 1_000
ADMIT_PER_MINUTE = 1_200
SURGE_CONNECTIONS = 200
SALE_CONNECTIONS = 16
POLL_SECONDS = 0.2
SALE_TIMEOUT_SECONDS = 300
TAU_TARGET = 0.99


async def _surge(url: str, requests: list[bytes]) -> list[raw_http.Exchange]:
    """Every request written at once, spread over the connections (each opened
    before any is written); the answers in the requests' order."""
    parts = urlsplit(url)
    connections = [
        await asyncio.open_connection(parts.hostname, parts.port)
        for _ in range(SURGE_CONNECTIONS)
    ]
    shares = [requests[i::SURGE_CONNECTIONS] for i in range(SURGE_CONNECTIONS)]
    try:
        answered = await asyncio.gather(
            *(
                raw_http.pipelined(reader, writer, share)
                for (reader, writer), share in zip(connections, shares, strict=True)
            )
        )
    finally:
        for _, writer in connections:
            writer.close()
    ordered: list[raw_http.Exchange | None] = [None] * len(requests)
    for index, share in enumerate(answered):
        for offset, exchange in enumerate(share):
            ordered[index + offset * SURGE_CONNECTIONS] = exchange
    return [e for e in ordered if e is not None]


def _latencies_ms(exchanges: list[raw_http.Exchange]) -> dict[str, float]:
    spans = [(e.answered - e.sent) * 1000 for e in exchanges]
    return {"p50_ms": median(spans), "p99_ms": percentile(spans, 0.99)}


def _statuses(exchanges: list[raw_http.Exchange]) -> dict[str, int]:
    return dict(Counter(str(e.status) for e in exchanges))


async def _sale(
    url: str, tokens: list[str], order: list[int], event_id: int, seats: int
) -> list[tuple[int, float, int, str]]:
    """Buyers in position order, each once `serving` reaches them: the token,
    then one seat with it. (position, answered, status, code) of each purchase."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    work: asyncio.Queue[int] = asyncio.Queue()
    purchases: list[tuple[int, float, int, str]] = []
    sold = asyncio.Event()
    body = json.dumps({"event_id": event_id, "seats_booked": 1}).encode()

    async def poll() -> None:
        reader, writer = await asyncio.open_connection(host, parts.port)
        handed = 0
        try:
            while not sold.is_set() and handed < len(order):
                answer = await raw_http.exchange(
                    reader,
                    writer,
                    raw_http.request_bytes(
                        "GET", f"/events/{event_id}/queue", host=host, token=tokens[0]
                    ),
                )
                serving = int(json.loads(answer.body)["serving"])
                while handed < min(serving, len(order)):
                    work.put_nowait(handed)
                    handed += 1
                await asyncio.sleep(POLL_SECONDS)
        finally:
            writer.close()

    async def buyer_connection() -> None:
        # The server closes a connection idle for 5 s (uvicorn's keep-alive):
        # a buyer whose turn is far off connects again when it comes.
        connection: list[Any] = []

        async def send(request: bytes) -> raw_http.Exchange:
            for attempt in range(2):
                if not connection:
                    connection.extend(await asyncio.open_connection(host, parts.port))
                try:
                    return await raw_http.exchange(
                        connection[0], connection[1], request
                    )
                except (IndexError, ConnectionError, asyncio.IncompleteReadError):
                    connection[1].close()
                    connection.clear()
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        try:
            while not sold.is_set():
                try:
                    index = await asyncio.wait_for(work.get(), timeout=1)
                except TimeoutError:
                    continue
                position, token = index + 1, tokens[order[index]]
                entry = await send(
                    raw_http.request_bytes(
                        "GET", f"/events/{event_id}/queue/me", host=host, token=token
                    )
                )
                admission = json.loads(entry.body).get("admission_token")
                if admission is None:
                    continue
                bought = await send(
                    raw_http.request_bytes(
                        "POST",
                        "/bookings",
                        host=host,
                        token=token,
                        body=body,
                        headers={"X-Admission-Token": admission},
                    )
                )
                code = (
                    json.loads(bought.body).get("code", "")
                    if bought.status >= 400
                    else ""
                )
                purchases.append((position, bought.answered, bought.status, code))
                if sum(1 for p in purchases if p[2] == 201) >= seats:
                    sold.set()
        finally:
            if connection:
                connection[1].close()

    await asyncio.wait_for(
        asyncio.gather(poll(), *(buyer_connection() for _ in range(SALE_CONNECTIONS))),
        timeout=SALE_TIMEOUT_SECONDS,
    )
    return purchases


def kendall_tau(pairs: list[tuple[float, float]]) -> float:
    """Kendall's tau-a of (x, y) pairs (no ties here: positions and times are
    distinct); O(n^2), fine for a thousand."""
    concordant = discordant = 0
    for i in range(len(pairs)):
        xi, yi = pairs[i]
        for j in range(i + 1, len(pairs)):
            product = (xi - pairs[j][0]) * (yi - pairs[j][1])
            if product > 0:
                concordant += 1
            elif product < 0:
                discordant += 1
    total = len(pairs) * (len(pairs) - 1) / 2
    return (concordant - discordant) / total if total else 1.0


def _bookings_per_second(event_id: int) -> list[int]:
    from ticketmania.db.engine import get_engine

    with get_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT date_trunc('second', created_at), count(*) FROM bookings "
                "WHERE event_id = :id GROUP BY 1 ORDER BY 1"
            ),
            {"id": event_id},
        ).all()
    return [int(count) for _, count in rows]


def _put_room(event_id: int, *, opens_at: datetime, on_sale_at: datetime) -> None:
    from ticketmania.db import waiting_rooms
    from ticketmania.db.engine import open_session

    with open_session() as session:
        waiting_rooms.put(
            session,
            waiting_rooms.Room(
                event_id=event_id,
                enabled=True,
                opens_at=opens_at,
                on_sale_at=on_sale_at,
                admit_per_minute=ADMIT_PER_MINUTE,
                max_active_holds=None,
                admission_ttl_seconds=600,
            ),
        )
        session.commit()


def _queue_of(services: Services, event_id: int) -> tuple[list[int], list[int]]:
    """Every position given, and what each inlet step let in."""
    from ticketmania.waiting_room import queue

    entries, *_rest = queue.keys(event_id)
    steps = queue.keys(event_id)[5]
    client = redis.Redis.from_url(services.redis_url)
    positions = sorted(int(p) for p in client.hgetall(entries).values())
    served = [int(score) for _, score in client.zrange(steps, 0, -1, withscores=True)]
    admitted = [b - a for a, b in zip([0, *served], served, strict=False)]
    return positions, admitted


def run(
    services: Services,
    start_server: Callable[[], Server],
    *,
    buyers: int = BUYERS,
    seats: int = SEATS,
) -> dict[str, Any]:
    tokens = [seed.token(user) for user in seed.create_users(buyers)]
    room_event = seed.create_event(total_seats=seats, title="On-sale, room on")
    open_event = seed.create_event(total_seats=seats, title="On-sale, room off")
    server = start_server().start()
    result: dict[str, Any] = {"buyers": buyers, "seats": seats}
    problems: list[str] = []
    try:
        server.wait_ready()
        host = urlsplit(server.url).hostname or "127.0.0.1"
        # Room on: every join lands in the pre-queue; the on-sale is moved to
        # a second after the last join is answered (an admin may move it).
        opens_at = datetime.now(UTC) - timedelta(minutes=1)
        _put_room(
            room_event, opens_at=opens_at, on_sale_at=opens_at + timedelta(hours=1)
        )
        joins = [
            raw_http.request_bytes(
                "POST", f"/events/{room_event}/queue", host=host, token=token
            )
            for token in tokens
        ]
        say(f"waiting room: {buyers} joins at once")
        started = time.perf_counter()
        joined = asyncio.run(_surge(server.url, joins))
        result["joins"] = {
            "seconds_to_answer_all": time.perf_counter() - started,
            "statuses": _statuses(joined),
            **_latencies_ms(joined),
        }
        if len(joined) != buyers or any(e.status >= 500 for e in joined):
            problems.append(f"joins: {_statuses(joined)}")
        on_sale_at = datetime.now(UTC) + timedelta(seconds=1)
        _put_room(room_event, opens_at=opens_at, on_sale_at=on_sale_at)
        time.sleep((on_sale_at - datetime.now(UTC)).total_seconds() + 0.1)
        from ticketmania.cache import get_cache
        from ticketmania.waiting_room import queue

        # Placed by the first inlet step after the on-sale, or by this call.
        queue.place_prequeue(get_cache(), room_event, on_sale_at=on_sale_at)
        positions, _ = _queue_of(services, room_event)
        if positions != list(range(1, buyers + 1)):
            problems.append(f"positions are not 1..{buyers}")
        client = redis.Redis.from_url(services.redis_url)
        by_user = {
            int(user): int(position)
            for user, position in client.hgetall(queue.keys(room_event)[0]).items()
        }
        user_ids = sorted(by_user, key=by_user.__getitem__)
        index_of_user = _index_of_user(tokens)
        order = [index_of_user[user] for user in user_ids]
        if problems:
            raise RuntimeError(f"waiting room: {problems}")
        say("waiting room: the sale, in position order as serving moves")
        sale_started = time.perf_counter()
        purchases = asyncio.run(_sale(server.url, tokens, order, room_event, seats))
        bought = sorted(
            (p for p in purchases if p[2] == 201), key=lambda purchase: purchase[1]
        )
        tau = kendall_tau([(p[0], rank) for rank, p in enumerate(bought)])
        per_second = _bookings_per_second(room_event)
        _, admitted = _queue_of(services, room_event)
        result["room_on"] = {
            "seconds_to_sell_out": time.perf_counter() - sale_started,
            "sold": len(bought),
            "purchase_statuses": dict(
                Counter(f"{p[2]} {p[3]}".strip() for p in purchases)
            ),
            "kendall_tau": tau,
            "bookings_per_second_peak": max(per_second, default=0),
            "bookings_per_second": per_second,
            "admit_per_minute": ADMIT_PER_MINUTE,
            "inlet_per_second": ADMIT_PER_MINUTE / 60,
            "inlet_step_peak": max(admitted, default=0),
        }
        if len(bought) != seats:
            problems.append(f"room on: {len(bought)} sold, not {seats}")
        # Room off: the same surge straight at the booking route.
        booking = json.dumps({"event_id": open_event, "seats_booked": 1}).encode()
        attempts = [
            raw_http.request_bytes(
                "POST", "/bookings", host=host, token=token, body=booking
            )
            for token in tokens
        ]
        say(f"waiting room off: {buyers} bookings at once")
        started = time.perf_counter()
        answered = asyncio.run(_surge(server.url, attempts))
        off_per_second = _bookings_per_second(open_event)
        result["room_off"] = {
            "seconds_to_answer_all": time.perf_counter() - started,
            "statuses": _statuses(answered),
            **_latencies_ms(answered),
            "sold": sum(1 for e in answered if e.status == 201),
            "bookings_per_second_peak": max(off_per_second, default=0),
            "bookings_per_second": off_per_second,
        }
        if any(e.status >= 500 for e in answered):
            problems.append(f"room off: {_statuses(answered)}")
    finally:
        server.stop()
    result["problems"] = problems
    return result


def _index_of_user(tokens: list[str]) -> dict[int, int]:
    """Each user id's index among the tokens (the token's `sub`)."""
    import jwt

    return {
        int(jwt.decode(token, options={"verify_signature": False})["sub"]): index
        for index, token in enumerate(tokens)
    }
