"""A flash sale with holds and a waitlist: 10,000 attempts from 500 users on ONE
event of 1,000 seats, through the local server, 64 connections at once, as
the plain flash sale (benchmarks/flash_sale.py) runs, but:

- half the buyers hold (`"hold": true`) and, once held, confirm;
- a tenth of those holders never confirm, and their holds lapse
  (HOLD_SECONDS is 30 s here: longer than the sale, so they lapse once the
  line has formed);
- once the event is sold out, 500 other users join its waitlist (a seat
  each), before the first hold lapses.

Every lapsed seat must then be offered to the waitlist, in its order, by the
server's own scheduled expire-holds, while nobody outside the line books.
Checked in the database afterwards: every seat confirmed or held by an offer,
the offers going to exactly the first entries of the line, and the counts.
What it measures beside the plain sale: a hold's answer time against a plain
booking's in the same sale, the confirmation's, and the sale's rate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text

from benchmarks import raw_http, seed
from benchmarks.environment import Services
from benchmarks.servers import Server
from benchmarks.timing import median, percentile
from ticketmania.cache import get_cache
from ticketmania.db.engine import open_session
from ticketmania.jobs.hold_expiry import expire_holds
from ticketmania.settings import get_settings

HOLD_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    kind: str  # "book", "hold", "confirm", "join"
    sent: float
    answered: float
    status: int
    body: dict[str, Any]


class Connection:
    """One HTTP/1.1 keep-alive connection, one request at a time."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    async def send(
        self, kind: str, path: str, token: str, body: dict[str, Any] | None
    ) -> Answer:
        exchange = await raw_http.post(
            self.reader,
            self.writer,
            host=self.host,
            path=path,
            token=token,
            body=json.dumps(body).encode() if body is not None else b"",
        )
        try:
            answer_body = json.loads(exchange.body) if exchange.body else {}
        except ValueError:
            answer_body = {"code": "unreadable"}
        return Answer(
            kind, exchange.sent, exchange.answered, exchange.status, answer_body
        )


async def _buyer_connection(
    host: str,
    port: int,
    attempts: Iterator[int],
    tokens: list[str],
    event_id: int,
    answers: list[Answer],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    http = Connection(reader, writer, host)
    try:
        for attempt in attempts:
            user = attempt % len(tokens)
            token = tokens[user]
            order: dict[str, Any] = {"event_id": event_id, "seats_booked": 1}
            if not is_holder(user):
                answers.append(await http.send("book", "/bookings", token, order))
                continue
            held = await http.send("hold", "/bookings", token, {**order, "hold": True})
            answers.append(held)
            if held.status == 201 and not lets_lapse(user):
                answers.append(
                    await http.send(
                        "confirm", f"/bookings/{held.body['id']}/confirm", token, None
                    )
                )
    finally:
        writer.close()


def is_holder(user: int) -> bool:
    """Half the buyers hold."""
    return user % 2 == 0


def lets_lapse(user: int) -> bool:
    """A tenth of the holders never confirm."""
    return user % 20 == 0


async def _sale(
    url: str, tokens: list[str], event_id: int, attempts: int, connections: int
) -> list[Answer]:
    parts = urlsplit(url)
    answers: list[Answer] = []
    numbers = iter(range(attempts))  # shared: each attempt is sent once
    await asyncio.gather(
        *(
            _buyer_connection(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                numbers,
                tokens,
                event_id,
                answers,
            )
            for _ in range(connections)
        )
    )
    return answers


async def _join(
    url: str, tokens: list[str], event_id: int, connections: int
) -> list[Answer]:
    """The waitlist: each user joins for one seat, in order of their index."""
    parts = urlsplit(url)
    answers: list[Answer] = []
    queue = iter(tokens)

    async def one() -> None:
        reader, writer = await asyncio.open_connection(
            parts.hostname or "127.0.0.1", parts.port or 80
        )
        http = Connection(reader, writer, parts.hostname or "127.0.0.1")
        try:
            for token in queue:
                answers.append(
                    await http.send(
                        "join", f"/events/{event_id}/waitlist", token, {"seats": 1}
                    )
                )
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return answers


def _state(event_id: int) -> dict[str, Any]:
    from ticketmania.db.engine import get_engine

    with get_engine().connect() as connection:

        def one(sql: str) -> Any:
            return connection.execute(text(sql), {"id": event_id}).scalar()

        return {
            "confirmed": int(
                one(
                    "SELECT coalesce(sum(seats_booked), 0) FROM bookings WHERE event_id = :id AND status = 'confirmed'"
                )
            ),
            "held": int(
                one(
                    "SELECT coalesce(sum(seats_booked), 0) FROM bookings WHERE event_id = :id AND status = 'held'"
                )
            ),
            "expired": int(
                one(
                    "SELECT coalesce(sum(seats_booked), 0) FROM bookings WHERE event_id = :id AND status = 'expired'"
                )
            ),
            "unsold": int(
                one(
                    "SELECT coalesce(sum(available), 0) FROM seat_shards WHERE event_id = :id"
                )
            ),
            "counted": int(
                one(
                    "SELECT coalesce(sum(seats), 0) FROM user_event_seats WHERE event_id = :id"
                )
            ),
            "offers": int(
                one(
                    "SELECT count(*) FROM waitlist_entries WHERE event_id = :id AND status = 'offered'"
                )
            ),
            "offers_in_order": bool(
                one(
                    "SELECT coalesce(bool_and(status = 'offered') FILTER (WHERE rank <= offered), true) "
                    "AND coalesce(bool_and(status = 'waiting') FILTER (WHERE rank > offered), true) "
                    "FROM (SELECT status, row_number() OVER (ORDER BY id) AS rank, "
                    "count(*) FILTER (WHERE status = 'offered') OVER () AS offered "
                    "FROM waitlist_entries WHERE event_id = :id) AS line"
                )
            ),
            "booked_after_line": int(
                one(
                    "SELECT count(*) FROM bookings b WHERE b.event_id = :id "
                    "AND NOT EXISTS (SELECT 1 FROM waitlist_entries w WHERE w.booking_id = b.id) "
                    "AND b.created_at > (SELECT min(created_at) + interval '0.5 s' "
                    "FROM waitlist_entries WHERE event_id = :id)"
                )
            ),
        }


def _ms(answers: list[Answer]) -> list[float]:
    return [(a.answered - a.sent) * 1000 for a in answers]


def run(
    services: Services,
    start_server: Callable[[], Server],
    *,
    users: int = 500,
    waiting: int = 500,
    seats: int = 1000,
    attempts: int = 10_000,
    connections: int = 64,
) -> dict[str, Any]:
    tokens = [seed.token(user) for user in seed.create_users(users)]
    line = [seed.token(user) for user in seed.create_users(waiting)]
    event_id = seed.create_event(total_seats=seats, title="Flash sale with holds")
    server = start_server().start()
    try:
        server.wait_ready()
        start = time.perf_counter()
        answers = asyncio.run(
            _sale(server.url, tokens, event_id, attempts, connections)
        )
        sale_seconds = time.perf_counter() - start
        before_join = _state(event_id)
        joins = asyncio.run(_join(server.url, line, event_id, min(connections, 16)))
        # Every lapsed hold's seat offered on by expire-holds, sweeping as it
        # does in AWS until the last hold has ended (run here rather than by the
        # server's scheduler, whose other jobs, the outbox relay first, would
        # share the cores with the sale: the plain sale runs without them).
        lapsing = before_join["held"]
        sweep = expire_holds(
            open_session,
            get_cache(),
            offer_seconds=get_settings().waitlist_offer_seconds,
            sweep_seconds=HOLD_SECONDS + 10,
        )
        offered_after = time.perf_counter() - start - sale_seconds
        after = _state(event_id)
    finally:
        server.stop()

    kinds = {
        kind: [a for a in answers if a.kind == kind]
        for kind in ("book", "hold", "confirm")
    }
    outcomes = Counter(
        f"{a.kind} {a.status} {a.body.get('code', '')}".strip() for a in answers
    )
    problems = []
    if after["confirmed"] + after["held"] != seats:
        problems.append(
            f"{after['confirmed']} confirmed + {after['held']} held, not {seats}"
        )
    if after["unsold"] != 0:
        problems.append(f"{after['unsold']} seats unsold in the shards")
    if after["counted"] != after["confirmed"] + after["held"]:
        problems.append(f"user_event_seats counts {after['counted']} seats")
    if after["offers"] != lapsing:
        problems.append(f"{after['offers']} offers for {lapsing} lapsed seats")
    if not after["offers_in_order"]:
        problems.append("the offers did not go to the first entries of the line")
    if after["booked_after_line"]:
        problems.append(f"{after['booked_after_line']} bookings made past the line")
    if any(a.status != 201 for a in joins):
        problems.append(f"joins answered {Counter(a.status for a in joins)}")
    failed = {
        k: v
        for k, v in outcomes.items()
        if " 2" not in k and " 409" not in k and " 429" not in k
    }
    if failed:
        problems.append(f"answers that are neither successes nor refusals: {failed}")

    made = {kind: [a for a in kinds[kind] if a.status in (200, 201)] for kind in kinds}
    result: dict[str, Any] = {
        "event_id": event_id,
        "seats": seats,
        "attempts": attempts,
        "users": users,
        "waitlist": waiting,
        "connections": connections,
        "hold_seconds": HOLD_SECONDS,
        "outcomes": dict(outcomes),
        "sale_seconds": sale_seconds,
        "requests_per_second": len(answers) / sale_seconds,
        "holds_lapsed": lapsing,
        "offers": after["offers"],
        "offers_in_order": after["offers_in_order"],
        "seconds_from_sale_end_to_last_offer": offered_after,
        "sweep": sweep,
        "state": after,
        "problems": problems,
    }
    for kind, made_of_kind in made.items():
        if made_of_kind:
            result[f"{kind}_p50_ms"] = median(_ms(made_of_kind))
            result[f"{kind}_p99_ms"] = percentile(_ms(made_of_kind), 0.99)
    if made["book"] and made["hold"]:
        result["hold_vs_booking"] = result["hold_p50_ms"] / result["book_p50_ms"]
    taken = sorted(a.answered for a in made["book"] + made["hold"])
    if taken:
        sold_out_at = taken[-1]
        after = [a for a in answers if a.sent >= sold_out_at and a.status == 409]
        window = max(a.answered for a in answers) - sold_out_at
        result["seconds_to_sell_out"] = sold_out_at - start
        result["refusals_per_second"] = len(after) / window if window > 0 else None
    return result
