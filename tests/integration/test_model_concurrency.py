"""A model-based concurrency test: one event driven by random interleavings of
bookings (small ones that the fast pick takes from one shard, large ones that
need the waiting pick), keyed retries, cancellations, resizes up and down and,
at the end of some episodes, the event's cancellation, sent from several
threads at once through `ticketmania serve` (four worker processes) against
real Postgres and Redis.

The model is what the answers said: every 201 is a confirmed booking, every
200 to a cancellation a cancelled one. After every round of operations the
database must agree with it, and with itself:

- unsold = total - confirmed, and the total is the one a successful resize set;
- each user's seat count on the event = the user's confirmed seats;
- one booking per Idempotency-Key, every answer under a key the same booking;
- one outbox message per booking and per cancellation;
- no answer is a 5xx, nor a 409 `conflict`.

Seeded (TICKETMANIA_MODEL_SEED) and so repeatable in what it sends; the order
the server runs it in is the machine's. `make test` runs a short run; the long
one is `pytest -m long tests/integration/test_model_concurrency.py`.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.factories import auth_header, create_event, user_token
from ticketmania.db.engine import get_engine

USERS = 8
THREADS = 8
# 6 shards of 10: small bookings take one shard, large ones (7 to 10 seats, once
# shards run low) need several; 8 users at 10 seats each can sell it out.
EVENT_SEATS = 60

Answer = tuple[int, dict[str, Any]]


@dataclass
class Model:
    event_id: int
    total: int
    tokens: list[str]
    user_ids: list[int]
    # booking id -> (user index, seats, status)
    bookings: dict[int, list[Any]] = field(default_factory=dict)
    # (user index, key) -> body sent, and every booking id answered under it
    keys: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    answers_by_key: dict[tuple[int, str], list[Answer]] = field(
        default_factory=lambda: defaultdict(list)
    )
    is_cancelled: bool = False

    def confirmed(self) -> dict[int, list[Any]]:
        return {i: b for i, b in self.bookings.items() if b[2] == "confirmed"}


def send_all(base_url: str, calls: list[Callable[[httpx.Client], Answer]]):
    barrier = threading.Barrier(len(calls))

    def run(call):
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get("/health")
            barrier.wait()
            return call(http)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def answer(response: httpx.Response) -> Answer:
    body = response.json() if response.content else {}
    return response.status_code, body


def plan_round(rng: random.Random, model: Model, admin: str, *, last: bool):
    """THREADS operations, each (kind, details, call)."""
    operations = []
    for _ in range(THREADS):
        kind = rng.choices(
            ["book", "book_large", "retry", "cancel", "resize"],
            weights=[4, 2, 2, 2, 1],
        )[0]
        user = rng.randrange(USERS)
        token = model.tokens[user]
        if kind == "retry" and model.keys:
            user, key = rng.choice(sorted(model.keys))
            body = model.keys[(user, key)]
            operations.append(("book", (user, key, body), model.tokens[user]))
            continue
        if kind == "cancel" and model.bookings:
            booking_id = rng.choice(sorted(model.bookings))
            owner = model.bookings[booking_id][0]
            operations.append(("cancel", booking_id, model.tokens[owner]))
            continue
        if kind == "resize":
            confirmed = sum(b[1] for b in model.confirmed().values())
            total = max(1, confirmed + rng.randint(-5, 40))
            operations.append(("resize", total, admin))
            continue
        seats = rng.randint(7, 10) if kind == "book_large" else rng.randint(1, 3)
        key = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.5 else None
        body = {"event_id": model.event_id, "seats_booked": seats}
        if key is not None:
            model.keys[(user, key)] = body
            # The same request twice at once: a client's retry racing itself.
            if rng.random() < 0.3:
                operations.append(("book", (user, key, body), token))
        operations.append(("book", (user, key, body), token))
    if last and rng.random() < 0.5:
        operations[-1] = ("cancel_event", model.event_id, admin)
    return operations[:THREADS]


def call_for(operation) -> Callable[[httpx.Client], Answer]:
    kind, details, token, *_ = operation
    headers = auth_header(token)
    if kind == "book":
        _, key, body = details
        if key is not None:
            headers = {**headers, "Idempotency-Key": key}
        return lambda http: answer(http.post("/bookings", json=body, headers=headers))
    if kind == "cancel":
        return lambda http: answer(
            http.post(f"/bookings/{details}/cancel", headers=headers)
        )
    if kind == "resize":
        return lambda http: answer(
            http.patch(
                f"/events/{details_of(operation)}",
                json={"total_seats": details},
                headers=headers,
            )
        )
    return lambda http: answer(http.delete(f"/events/{details}", headers=headers))


def details_of(operation):
    return operation[3] if len(operation) > 3 else None


ALLOWED_409 = {
    "book": {"sold_out", "limit_exceeded", "event_closed", "idempotency_mismatch"},
    "cancel": {"already_cancelled", "event_closed"},
    "resize": {"seats_below_booked"},
    "cancel_event": set(),
}


def apply_answers(model: Model, operations, answers) -> list[int]:
    """Fold the answers into the model; the totals successful resizes set."""
    resized_to = []
    for (kind, details, _token, *_), (status, body) in zip(
        operations, answers, strict=True
    ):
        assert status < 500, (kind, details, status, body)
        if status == 409:
            assert body["code"] in ALLOWED_409[kind], (kind, details, body)
        if kind == "book":
            user, key, _body = details
            if key is not None:
                model.answers_by_key[(user, key)].append((status, body))
            if status == 201:
                model.bookings[body["id"]] = [user, body["seats_booked"], "confirmed"]
            elif status in (401, 404):
                raise AssertionError((kind, details, status, body))
        elif kind == "cancel" and status == 200:
            model.bookings[details][2] = "cancelled"
        elif kind == "resize" and status == 200:
            resized_to.append(body["total_seats"])
        elif kind == "cancel_event":
            assert status == 204, body
            model.is_cancelled = True
    return resized_to


def check(model: Model, total_before: int, resized_to: list[int]) -> None:
    with get_engine().connect() as connection:
        total, unsold, cancelled_at = connection.execute(
            text(
                "SELECT total_seats, (SELECT coalesce(sum(available), 0) "
                "FROM seat_shards WHERE event_id = e.id), cancelled_at "
                "FROM events e WHERE id = :id"
            ),
            {"id": model.event_id},
        ).one()
        rows = connection.execute(
            text(
                "SELECT id, user_id, seats_booked, status FROM bookings "
                "WHERE event_id = :id"
            ),
            {"id": model.event_id},
        ).all()
        allowances = dict(
            connection.execute(
                text(
                    "SELECT user_id, seats FROM user_event_seats WHERE event_id = :id"
                ),
                {"id": model.event_id},
            ).all()
        )
        keys_per_booking = dict(
            connection.execute(
                text(
                    "SELECT k.user_id::text || ':' || k.key, k.booking_id "
                    "FROM idempotency_keys k JOIN bookings b ON b.id = k.booking_id "
                    "WHERE b.event_id = :id"
                ),
                {"id": model.event_id},
            ).all()
        )
        messages = dict(
            connection.execute(
                text(
                    "SELECT topic || ':' || (payload->>'booking_id'), count(*) "
                    "FROM outbox WHERE payload->>'event_id' = CAST(:id AS text) "
                    "AND payload ? 'booking_id' GROUP BY 1"
                ),
                {"id": model.event_id},
            ).all()
        )
    # The total is the one the last successful resize set (or as it was).
    assert total in (resized_to or [total_before]), (total, resized_to)
    model.total = total
    database = {row.id: row for row in rows}
    # Every 201 is a booking, and its status is what the answers said.
    assert set(database) == set(model.bookings), "a booking the answers never named"
    for booking_id, (user, seats, status) in model.bookings.items():
        row = database[booking_id]
        expected = "cancelled" if model.is_cancelled else status
        assert (row.user_id, row.seats_booked, row.status) == (
            model.user_ids[user],
            seats,
            expected,
        ), booking_id
    confirmed = [row for row in rows if row.status == "confirmed"]
    if cancelled_at is None:
        assert unsold == total - sum(row.seats_booked for row in confirmed)
    else:
        assert unsold == total and not confirmed
    for user_index, user_id in enumerate(model.user_ids):
        mine = sum(row.seats_booked for row in confirmed if row.user_id == user_id)
        assert allowances.get(user_id, 0) == mine, user_index
    # One booking per key, and every answer under the key names it.
    for (user, key), answers in model.answers_by_key.items():
        booked = [body["id"] for status, body in answers if status in (200, 201)]
        stored = keys_per_booking.get(f"{model.user_ids[user]}:{key}")
        assert set(booked) <= {stored}, (key, answers, stored)
        assert sum(1 for status, _ in answers if status == 201) <= 1, answers
    # One message per booking and one per cancellation of a booking.
    for booking_id, row in database.items():
        assert messages.get(f"booking.confirmed:{booking_id}") == 1, booking_id
        cancelled_alone = row.status == "cancelled" and not model.is_cancelled
        if cancelled_alone or model.bookings[booking_id][2] == "cancelled":
            assert messages.get(f"booking.cancelled:{booking_id}") == 1, booking_id


def run_model(client, admin, base_url: str, *, seed: int, episodes: int, rounds: int):
    rng = random.Random(seed)
    users = [user_token(client) for _ in range(USERS)]
    for _ in range(episodes):
        event = create_event(client, admin, total_seats=EVENT_SEATS)
        model = Model(
            event_id=event["id"],
            total=EVENT_SEATS,
            tokens=[token for _, token in users],
            user_ids=[user["id"] for user, _ in users],
        )
        for round_ in range(rounds):
            operations = [
                (*operation, model.event_id) if operation[0] == "resize" else operation
                for operation in plan_round(
                    rng, model, admin, last=round_ == rounds - 1
                )
            ]
            answers = send_all(base_url, [call_for(op) for op in operations])
            resized_to = apply_answers(model, operations, answers)
            check(model, model.total, resized_to)
        # Give every seat back, so the users' caps start afresh next episode.
        if not model.is_cancelled:
            client.delete(f"/events/{model.event_id}", headers=auth_header(admin))


def seed() -> int:
    return int(os.environ.get("TICKETMANIA_MODEL_SEED", "20261202"))


def test_random_interleavings_keep_every_invariant(client, admin, live_server):
    run_model(client, admin, live_server, seed=seed(), episodes=4, rounds=6)


@pytest.mark.long
def test_random_interleavings_keep_every_invariant_for_long(client, admin, live_server):
    run_model(client, admin, live_server, seed=seed(), episodes=40, rounds=10)
