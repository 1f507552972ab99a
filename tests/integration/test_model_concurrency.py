"""A model-based concurrency test: one event driven by random interleavings of
bookings (small ones that the fast pick takes from one shard, large ones that
need the waiting pick), holds (confirmed, extended, released, or left to
lapse), keyed retries, cancellations, waitlist joins and leaves, resizes up
and down, orders of one to three lines over ticket types counted by two
overlapping quotas (a VIP quota inside a VIP-and-standard one), quota
resizes and re-typings, payments of priced orders through the fake Stripe
(the buyer's card, then Stripe's signed webhook), admin refunds, in some
episodes a waiting room (buyers join its queue, the server's inlet admits
them every second, and bookings, holds and orders carry the admission, a
used one, or none) and, at the end of some episodes, the event's
cancellation, sent from
several threads at once through `ticketmania serve` (four worker processes,
with its scheduled jobs, holds of 2 s and offers of 3 s) against real Postgres
and Redis, once connecting directly and once through a transaction pooler.

The model is what the answers said: every 201 to a booking is a booking or a
hold, every 200 to a cancellation a cancelled one, every 200 to a
confirmation a confirmed one. After every round of operations the database
must agree with it, and with itself:

- the shards' unsold seats = total - confirmed - held (every hold not yet
  settled: a live hold's seats are out of the shards, an ended one's come
  back when it is settled), so that total - confirmed - live holds is what
  anyone may book; the total is the one a successful resize set;
- each user's seat count on the event = the user's confirmed and held seats;
- for every quota: what its confirmed orders and unsettled holds took <= its
  size, and its unsold seats = size - that; every order's seats and total are
  the sum of its lines (ticket types and quotas join the model);
- money: no priced order is confirmed without a succeeded payment, a payment
  captures its order's total once, refunds never exceed the capture and each
  order's refunded_minor is the sum of its refunds;
- one booking per Idempotency-Key, every answer under a key the same booking;
- one message per booking confirmed, per booking cancelled, per hold settled
  as expired and per offer; none for a hold released or not yet confirmed;
- no booking from outside the line was made while an entry waited;
- with the room on: queue positions are unique and consecutive, one entry
  per user; `serving` never goes down and never past the last position;
  every booking but the line's offers used an admission of its own user,
  at a position the inlet had admitted, each admission once (bookings and
  holds made <= admissions used <= serving);
- no answer is a 5xx, nor a 409 `conflict`.

Seeded (TICKETMANIA_MODEL_SEED) and so repeatable in what it sends; the order
the server runs it in is the machine's. `make test` runs a short run; the long
one is `pytest -m long tests/integration/test_model_concurrency.py`.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import text

from tests.factories import (
    auth_header,
    create_event,
    create_quota,
    create_ticket_type,
    user_token,
)
from tests.integration.conftest import serving
from ticketmania.db.engine import get_engine

USERS = 8
THREADS = 8
# 6 shards of 10: small bookings take one shard, large ones (7 to 10 seats, once
# shards run low) need several; 8 users at 10 seats each can sell it out.
EVENT_SEATS = 60

Answer = tuple[int, dict[str, Any]]
# An entry is written, then committed a moment later; a booking that began in
# between did not see it, rightly.
COMMIT_MARGIN = timedelta(seconds=0.5)
MODEL_KEY_PREFIX = "model"


@pytest.fixture(scope="module", params=["direct", "through a transaction pooler"])
def model_server(request: pytest.FixtureRequest) -> Iterator[str]:
    # The pooler (PgBouncer in transaction mode, two server connections for the
    # four workers' pools and the jobs) is what a surge deploys in front of Postgres.
    database = {}
    if request.param != "direct":
        database["DATABASE_URL"] = request.getfixturevalue("pooled_database_url")
    with serving(
        **database,
        HOLD_SECONDS="2",
        HOLD_EXTENSION_SECONDS="1",
        HOLD_MAX_SECONDS="3",
        WAITLIST_OFFER_SECONDS="3",
        TICKETMANIA_JOBS="on",
        # Named, so that the checks read the room's queue where the server keeps it.
        REDIS_KEY_PREFIX=MODEL_KEY_PREFIX,
    ) as base_url:
        yield base_url


@dataclass
class Model:
    event_id: int
    total: int
    tokens: list[str]
    user_ids: list[int]
    # booking id -> [user index, seats, status the answers last gave]
    bookings: dict[int, list[Any]] = field(default_factory=dict)
    # (user index, key) -> the body sent under it
    keys: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    answers_by_key: dict[tuple[int, str], list[Answer]] = field(
        default_factory=lambda: defaultdict(list)
    )
    is_cancelled: bool = False
    # The default type, VIP and standard; the VIP quota and the VIP-and-standard one.
    types: list[int] = field(default_factory=list)
    quotas: list[int] = field(default_factory=list)
    # Webhooks that paid (or refunded) an order, over the episode.
    payments_taken: int = 0
    # The episode's waiting room is on; each user's admission token, once
    # fetched; the highest `serving` seen so far.
    room: bool = False
    admissions: dict[int, str] = field(default_factory=dict)
    serving: int = 0

    def confirmed(self) -> dict[int, list[Any]]:
        return {i: b for i, b in self.bookings.items() if b[2] == "confirmed"}

    def holds(self) -> list[int]:
        return sorted(i for i, b in self.bookings.items() if b[2] == "held")


def send_all(base_url: str, calls: list[Callable[[httpx.Client], Answer]]):
    barrier = threading.Barrier(len(calls), timeout=60)

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


KINDS = {
    "book": 4,
    "book_large": 2,
    "hold": 3,
    "retry": 2,
    "cancel": 2,
    "confirm": 2,
    "extend": 1,
    "join": 2,
    "leave": 1,
    "resize": 1,
    "order": 4,
    "quota_resize": 1,
    "retype": 1,
    "pay": 2,
    "refund": 1,
    "queue": 3,
}


def plan_round(rng: random.Random, model: Model, admin: str, *, last: bool):
    """THREADS operations, each (kind, details, token[, event id])."""
    operations = []
    while len(operations) < THREADS:
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        user = rng.randrange(USERS)
        token = model.tokens[user]
        event_id = model.event_id
        if kind == "retry" and model.keys:
            user, key = rng.choice(sorted(model.keys))
            body = model.keys[(user, key)]
            retried = "order" if "lines" in body else "book"
            operations.append((retried, (user, key, body), model.tokens[user]))
        elif kind == "cancel" and model.bookings:
            booking_id = rng.choice(sorted(model.bookings))
            owner = model.bookings[booking_id][0]
            operations.append(("cancel", booking_id, model.tokens[owner]))
        elif kind in ("confirm", "extend") and model.holds():
            booking_id = rng.choice(model.holds())
            owner = model.bookings[booking_id][0]
            operations.append((kind, booking_id, model.tokens[owner]))
        elif kind == "resize":
            confirmed = sum(b[1] for b in model.confirmed().values())
            total = max(1, confirmed + rng.randint(-5, 40))
            operations.append(("resize", total, admin, event_id))
        elif kind == "order":
            chosen = rng.sample(model.types, rng.randint(1, 3))
            lines = [
                {"ticket_type_id": type_id, "quantity": rng.randint(1, 3)}
                for type_id in chosen
            ]
            key = (
                str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.3 else None
            )
            body = {"event_id": event_id, "lines": lines}
            if rng.random() < 0.3:
                body["hold"] = True
            if key is not None:
                model.keys[(user, key)] = body
            operations.append(("order", (user, key, body), token))
        elif kind == "pay" and model.holds():
            booking_id = rng.choice(model.holds())
            owner = model.bookings[booking_id][0]
            operations.append(("pay", booking_id, model.tokens[owner]))
        elif kind == "refund" and model.bookings:
            booking_id = rng.choice(sorted(model.bookings))
            operations.append(("refund", (booking_id, rng.randint(1, 3000)), admin))
        elif kind == "quota_resize":
            quota_id = rng.choice(model.quotas)
            operations.append(("quota_resize", (quota_id, rng.randint(0, 30)), admin))
        elif kind == "retype":
            # The standard type in or out of the larger quota.
            type_ids = model.types[1:] if rng.random() < 0.5 else model.types[1:2]
            operations.append(("retype", (model.quotas[1], type_ids), admin))
        elif kind == "queue" and model.room:
            operations.append(("queue", user, token, event_id))
        elif kind == "join":
            operations.append(("join", (user, rng.randint(1, 3)), token, event_id))
        elif kind == "leave":
            operations.append(("leave", user, token, event_id))
        elif kind in ("book", "book_large", "hold"):
            seats = rng.randint(7, 10) if kind == "book_large" else rng.randint(1, 3)
            key = (
                str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.5 else None
            )
            body: dict[str, Any] = {"event_id": event_id, "seats_booked": seats}
            if kind == "hold":
                body["hold"] = True
            if key is not None:
                model.keys[(user, key)] = body
                # The same request twice at once: a client's retry racing itself.
                if rng.random() < 0.3:
                    operations.append(("book", (user, key, body), token))
            operations.append(("book", (user, key, body), token))
    operations = operations[:THREADS]
    if model.room:
        # A sale carries its user's admission, mostly (maybe used already).
        operations = [
            (*op, model.admissions.get(op[1][0]) if rng.random() < 0.85 else None)
            if op[0] in ("book", "order")
            else op
            for op in operations
        ]
    if last and rng.random() < 0.5:
        operations[-1] = ("cancel_event", model.event_id, admin)
    return operations


def call_for(operation) -> Callable[[httpx.Client], Answer]:
    kind, details, token, *rest = operation
    headers = auth_header(token)
    if kind in ("book", "order") and rest and rest[0] is not None:
        headers = {**headers, "X-Admission-Token": rest[0]}
    if kind == "queue":
        return lambda http: queue_and_admission(http, rest[0], headers)
    if kind == "book":
        _, key, body = details
        if key is not None:
            headers = {**headers, "Idempotency-Key": key}
        return lambda http: answer(http.post("/bookings", json=body, headers=headers))
    if kind == "order":
        _, key, body = details
        if key is not None:
            headers = {**headers, "Idempotency-Key": key}
        return lambda http: answer(http.post("/orders", json=body, headers=headers))
    if kind == "pay":
        return lambda http: pay_through_stripe(http, details, headers)
    if kind == "refund":
        booking_id, amount = details
        return lambda http: answer(
            http.post(
                f"/orders/{booking_id}/refunds",
                json={"amount_minor": amount},
                headers=headers,
            )
        )
    if kind == "quota_resize":
        quota_id, size = details
        return lambda http: answer(
            http.patch(f"/quotas/{quota_id}", json={"size": size}, headers=headers)
        )
    if kind == "retype":
        quota_id, type_ids = details
        return lambda http: answer(
            http.patch(
                f"/quotas/{quota_id}",
                json={"ticket_type_ids": type_ids},
                headers=headers,
            )
        )
    if kind in ("cancel", "confirm", "extend"):
        return lambda http: answer(
            http.post(f"/bookings/{details}/{kind}", headers=headers)
        )
    if kind == "resize":
        return lambda http: answer(
            http.patch(
                f"/events/{rest[0]}", json={"total_seats": details}, headers=headers
            )
        )
    if kind == "join":
        return lambda http: answer(
            http.post(
                f"/events/{rest[0]}/waitlist",
                json={"seats": details[1]},
                headers=headers,
            )
        )
    if kind == "leave":
        return lambda http: answer(
            http.delete(f"/events/{rest[0]}/waitlist/me", headers=headers)
        )
    return lambda http: answer(http.delete(f"/events/{details}", headers=headers))


def queue_and_admission(http: httpx.Client, event_id: int, headers) -> Answer:
    """Join the room's queue (or find one's entry), then read it: the token
    once admitted."""
    joined = http.post(f"/events/{event_id}/queue", headers=headers)
    if joined.status_code not in (200, 201):
        return answer(joined)
    return answer(http.get(f"/events/{event_id}/queue/me", headers=headers))


def pay_through_stripe(http: httpx.Client, order_id: int, headers) -> Answer:
    """The buyer's whole payment: the order's payment, the card at the fake
    Stripe, then Stripe's signed webhook; the last answer."""
    from tests.integration.conftest import TEST_WEBHOOK_SECRET
    from tests.integration.test_payments import buyer_pays, provider_payment_id
    from ticketmania.payments.test_provider import payment_succeeded_event, sign_webhook

    started = http.post(
        f"/orders/{order_id}/payments", json={"provider": "stripe"}, headers=headers
    )
    if started.status_code not in (200, 201):
        return answer(started)
    payment = started.json()
    payment_id = provider_payment_id(order_id)
    # A payment Stripe took before (a retry of the operation): its webhook still counts.
    with contextlib.suppress(stripe.StripeError):
        buyer_pays(payment_id)
    body = payment_succeeded_event(
        event_id=f"evt_{uuid.uuid4().hex}",
        payment_id=payment_id,
        amount_minor=payment["amount_minor"],
        currency=payment["currency"],
    )
    return answer(
        http.post(
            "/payments/stripe/webhook",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign_webhook(body, TEST_WEBHOOK_SECRET),
            },
        )
    )


ALLOWED_409 = {
    "book": {"sold_out", "limit_exceeded", "event_closed", "idempotency_mismatch"},
    "order": {"sold_out", "limit_exceeded", "event_closed", "idempotency_mismatch"},
    "quota_resize": {"quota_below_used"},
    "pay": {"not_payable", "hold_expired", "conflict"},
    "refund": {"not_payable", "refund_exceeds_captured"},
    "retype": set(),
    "cancel": {"already_cancelled", "event_closed", "hold_expired"},
    # A priced order is confirmed by its payment alone.
    "confirm": {
        "hold_expired",
        "already_cancelled",
        "event_closed",
        "payment_required",
    },
    "extend": {
        "hold_expired",
        "hold_extension_limit",
        "already_cancelled",
        "not_held",
        "event_closed",
    },
    "resize": {"seats_below_booked"},
    "join": {"seats_available", "already_waiting", "limit_exceeded", "event_closed"},
    "leave": set(),
    "cancel_event": set(),
}


def apply_answers(model: Model, operations, answers) -> list[int]:
    """Fold the answers into the model; the totals successful resizes set."""
    resized_to = []
    cancels_event = any(operation[0] == "cancel_event" for operation in operations)
    for (kind, details, _token, *_), (status, body) in zip(
        operations, answers, strict=True
    ):
        assert status < 500, (kind, details, status, body)
        if status == 409 and model.room and kind in ("book", "order"):
            assert body["code"] in ALLOWED_409[kind] | {"admission_used"}, body
        elif status == 409:
            assert body["code"] in ALLOWED_409[kind], (kind, details, body)
        if status == 403:
            assert model.room and kind in ("book", "order"), (kind, details, body)
            assert body["code"] == "admission_required", body
        if kind in ("book", "order"):
            user, key, _body = details
            if key is not None:
                model.answers_by_key[(user, key)].append((status, body))
            if status == 201:
                seats = body.get("seats_booked") or sum(
                    line["quantity"] for line in body["lines"]
                )
                # An order's answer names pending and paid what a booking's
                # names held and confirmed.
                status = {"pending": "held", "paid": "confirmed"}.get(
                    body["status"], body["status"]
                )
                model.bookings[body["id"]] = [user, seats, status]
            elif status in (401, 404):
                raise AssertionError((kind, details, status, body))
        elif kind in ("pay", "refund"):
            if kind == "pay" and status == 200 and body.get("took_effect"):
                model.payments_taken += 1
            assert status in (200, 201, 409) or (status == 404 and cancels_event), (
                kind,
                status,
                body,
            )
        elif kind in ("quota_resize", "retype"):
            # 404: the quota's event was cancelled in the same round.
            assert status in (200, 409) or (status == 404 and cancels_event), (
                kind,
                status,
                body,
            )
        elif kind == "cancel" and status == 200:
            model.bookings[details][2] = "cancelled"
        # Answers of one round may have run in any order: a cancellation is
        # final, whichever of them the model reads first.
        elif kind == "confirm" and status == 200:
            if model.bookings[details][2] != "cancelled":
                model.bookings[details][2] = "confirmed"
        elif kind == "confirm" and status == 409 and body["code"] == "hold_expired":
            if model.bookings[details][2] != "cancelled":
                model.bookings[details][2] = "expired"
        elif kind == "resize" and status == 200:
            resized_to.append(body["total_seats"])
        elif kind == "cancel_event":
            assert status == 204, body
            model.is_cancelled = True
        elif kind == "leave":
            assert status in (204, 404), body
        elif kind == "queue":
            # 404: the event was cancelled in the same round.
            assert status == 200 or (status == 404 and cancels_event), body
            if status == 200 and body.get("admission_token"):
                model.admissions[details] = body["admission_token"]
    return resized_to


def read_database(event_id: int) -> dict[str, Any]:
    # One snapshot for every read: the server's scheduled expire-holds may settle
    # a hold or make an offer between two statements.
    with (
        get_engine()
        .connect()
        .execution_options(isolation_level="REPEATABLE READ") as connection
    ):

        def rows(sql):
            return connection.execute(text(sql), {"id": event_id}).all()

        total, unsold, cancelled_at = rows(
            "SELECT total_seats, (SELECT coalesce(sum(available), 0) "
            "FROM seat_shards WHERE event_id = e.id), cancelled_at "
            "FROM events e WHERE id = :id"
        )[0]
        return {
            "total": total,
            "unsold": int(unsold),
            "cancelled_at": cancelled_at,
            "bookings": {
                row.id: row
                for row in rows(
                    "SELECT id, user_id, seats_booked, status, expires_at, created_at, "
                    "total_minor FROM bookings WHERE event_id = :id"
                )
            },
            "offers": {
                row[0]
                for row in rows(
                    "SELECT booking_id FROM waitlist_entries "
                    "WHERE event_id = :id AND booking_id IS NOT NULL"
                )
            },
            "allowances": dict(
                rows("SELECT user_id, seats FROM user_event_seats WHERE event_id = :id")
            ),
            "keys": dict(
                rows(
                    "SELECT k.user_id::text || ':' || k.key, k.booking_id "
                    "FROM idempotency_keys k JOIN bookings b ON b.id = k.booking_id "
                    "WHERE b.event_id = :id"
                )
            ),
            "messages": dict(
                rows(
                    "SELECT topic || ':' || (payload->>'booking_id'), count(*) "
                    "FROM outbox WHERE payload->>'event_id' = CAST(:id AS text) "
                    "AND payload ? 'booking_id' GROUP BY 1"
                )
            ),
            "quotas": rows(
                "SELECT q.id, q.size, "
                "(SELECT coalesce(sum(available), 0) FROM quota_shards s "
                " WHERE s.quota_id = q.id), "
                "(SELECT coalesce(bool_or(closed), false) FROM quota_shards s "
                " WHERE s.quota_id = q.id), "
                "(SELECT coalesce(sum(k.seats), 0) FROM booking_quota_takes k "
                " JOIN bookings b ON b.id = k.booking_id "
                " WHERE k.quota_id = q.id AND b.status IN ('confirmed', 'held')) "
                "FROM quotas q WHERE q.event_id = :id"
            ),
            "payments": rows(
                "SELECT p.booking_id, p.status, p.amount_minor, p.captured_minor, "
                "b.status, b.total_minor, b.refunded_minor, "
                "(SELECT coalesce(sum(r.amount_minor), 0) FROM refunds r "
                " WHERE r.payment_id = p.id) "
                "FROM payments p JOIN bookings b ON b.id = p.booking_id "
                "WHERE b.event_id = :id"
            ),
            "unpaid_priced_confirmed": rows(
                "SELECT b.id FROM bookings b WHERE b.event_id = :id "
                "AND b.status = 'confirmed' AND b.total_minor > 0 AND NOT EXISTS "
                "(SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.status = 'succeeded')"
            ),
            "unbalanced_orders": rows(
                "SELECT b.id FROM bookings b WHERE b.event_id = :id AND ("
                " b.seats_booked <> (SELECT coalesce(sum(quantity), b.seats_booked) "
                "  FROM order_lines l WHERE l.booking_id = b.id) "
                " OR b.total_minor <> coalesce((SELECT sum(quantity * unit_price_minor) "
                "  FROM booking_lines l WHERE l.booking_id = b.id), "
                "  b.unit_price_minor * b.seats_booked, 0))"
            ),
            "admission_uses": rows(
                "SELECT jti, user_id, position, booking_id FROM admission_uses "
                "WHERE event_id = :id"
            ),
            "waiting_since": [
                row[0]
                for row in rows(
                    "SELECT created_at FROM waitlist_entries "
                    "WHERE event_id = :id AND status = 'waiting'"
                )
            ],
        }


def check(model: Model, total_before: int, resized_to: list[int]) -> None:
    db = read_database(model.event_id)
    # The total is the one the last successful resize set (or as it was).
    assert db["total"] in (resized_to or [total_before]), (db["total"], resized_to)
    model.total = db["total"]
    bookings = db["bookings"]
    # Every booking is one an answer named, or an offer made to the line.
    assert set(bookings) == set(model.bookings) | db["offers"], "an unknown booking"
    for booking_id, (user, seats, status) in model.bookings.items():
        row = bookings[booking_id]
        assert (row.user_id, row.seats_booked) == (model.user_ids[user], seats)
        possible = {
            "confirmed": {"confirmed"},
            "cancelled": {"cancelled"},
            # A hold may have ended (settled or not) or been confirmed or
            # released by a request whose answer the model did not see.
            "held": {"held", "expired", "confirmed", "cancelled"},
            # ... and a priced one let go is taken again by its late payment.
            "expired": {"held", "expired", "confirmed"},
        }[status]
        if model.is_cancelled:
            possible = {"cancelled", "expired"}
        assert row.status in possible, (booking_id, status, row.status)
    confirmed = [row for row in bookings.values() if row.status == "confirmed"]
    held = [row for row in bookings.values() if row.status == "held"]
    if db["cancelled_at"] is None:
        assert db["unsold"] == db["total"] - sum(
            r.seats_booked for r in confirmed
        ) - sum(r.seats_booked for r in held)
    else:
        assert db["unsold"] == db["total"] and not confirmed and not held
    # Every quota: never more used than its size; its shards hold the rest
    # (after the event's cancellation, all of it: every order was cancelled).
    for quota_id, size, unsold, closed, used in db["quotas"]:
        assert used <= size, (quota_id, size, used)
        if not closed:
            assert unsold == size - used, (quota_id, size, unsold, used)
    assert db["unbalanced_orders"] == []
    # Money: a priced order is confirmed by its payment alone; a payment
    # captures its order's total once; refunds never exceed the capture, and
    # each order says how much was refunded.
    assert db["unpaid_priced_confirmed"] == []
    for (
        booking_id,
        status,
        amount,
        captured,
        order_status,
        total,
        refunded,
        refunds,
    ) in db["payments"]:
        assert amount == total, booking_id
        assert captured in ((amount,) if status == "succeeded" else (0,)), booking_id
        assert refunds <= captured and refunded == refunds, booking_id
        if order_status == "held":
            assert status == "open", booking_id
    for user_index, user_id in enumerate(model.user_ids):
        mine = sum(r.seats_booked for r in confirmed + held if r.user_id == user_id)
        assert db["allowances"].get(user_id, 0) == mine, user_index
    # One booking per key, and every answer under the key names it.
    for (user, key), answers in model.answers_by_key.items():
        booked = [body["id"] for status, body in answers if status in (200, 201)]
        stored = db["keys"].get(f"{model.user_ids[user]}:{key}")
        assert set(booked) <= {stored}, (key, answers, stored)
        assert sum(1 for status, _ in answers if status == 201) <= 1, answers
    # Messages: one per confirmation, cancelled booking, settled lapse, offer.
    messages = db["messages"]
    for booking_id, row in bookings.items():
        was_confirmed = row.expires_at is None  # confirming clears a hold's end
        expected = {
            "booking.confirmed": 1 if was_confirmed else 0,
            "booking.cancelled": 1
            if was_confirmed and row.status == "cancelled" and not model.is_cancelled
            else None,  # None: 0 or 1 (a cancellation racing the event's)
            # A priced order let go, then taken again by its late payment,
            # was told both (None: 0 or 1).
            "hold.expired": 1
            if row.status == "expired"
            else (None if row.status == "confirmed" and row.total_minor > 0 else 0),
            "waitlist.offered": 1 if booking_id in db["offers"] else 0,
        }
        for topic, count in expected.items():
            seen = messages.get(f"{topic}:{booking_id}", 0)
            if count is None:
                assert seen <= 1, (topic, booking_id)
            else:
                assert seen == count, (topic, booking_id, row.status)
    if model.room:
        check_room(model, db)
    # No booking from outside the line while an entry waited: none began after
    # an entry still waiting now was written (and, a moment later, committed).
    for row in bookings.values():
        if row.id in db["offers"] or row.id not in model.bookings:
            continue
        earlier = [
            since
            for since in db["waiting_since"]
            if since + COMMIT_MARGIN < row.created_at
        ]
        assert not earlier, ("booked past a waiting entry", row.id)


def check_room(model: Model, db: dict[str, Any]) -> None:
    import redis

    from ticketmania.waiting_room import queue

    entries, _, last_key, _, serving_key, _, _ = (
        f"{MODEL_KEY_PREFIX}:{key}" for key in queue.keys(model.event_id)
    )
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    positions = {int(u): int(p) for u, p in client.hgetall(entries).items()}
    serving = int(client.get(serving_key) or 0)
    last = int(client.get(last_key) or 0)
    # Unique and consecutive, one entry per user (a hash: one field per user).
    assert sorted(positions.values()) == list(range(1, len(positions) + 1)), positions
    assert last == len(positions) and model.serving <= serving <= last
    model.serving = serving
    uses = db["admission_uses"]
    by_booking = {use.booking_id: use for use in uses}
    assert len(by_booking) == len(uses)  # one booking per admission, and back
    for use in uses:
        assert use.jti == f"{model.event_id}:{use.position}", use
        assert positions.get(use.user_id) == use.position, use
        assert use.position <= serving, (use, serving)
    # Every booking but the line's offers was made with an admission.
    for booking_id, row in db["bookings"].items():
        if booking_id not in db["offers"]:
            assert booking_id in by_booking, ("sold without an admission", booking_id)
            assert by_booking[booking_id].user_id == row.user_id


def run_model(client, admin, base_url: str, *, seed: int, episodes: int, rounds: int):
    rng = random.Random(seed)
    users = [user_token(client) for _ in range(USERS)]
    payments_taken = 0
    rooms_sold = 0
    for episode in range(episodes):
        event = create_event(client, admin, total_seats=EVENT_SEATS)
        (default,) = client.get(f"/events/{event['id']}/ticket-types").json()
        vip = create_ticket_type(
            client, admin, event["id"], name="VIP", price_minor=9000
        )
        std = create_ticket_type(
            client, admin, event["id"], name="Std", price_minor=2500
        )
        vip_quota = create_quota(
            client, admin, event["id"], size=12, ticket_type_ids=[vip["id"]]
        )
        shared_quota = create_quota(
            client, admin, event["id"], size=24, ticket_type_ids=[vip["id"], std["id"]]
        )
        model = Model(
            event_id=event["id"],
            total=EVENT_SEATS,
            tokens=[token for _, token in users],
            user_ids=[user["id"] for user, _ in users],
            types=[default["id"], vip["id"], std["id"]],
            quotas=[vip_quota["id"], shared_quota["id"]],
            # Every other episode behind a waiting room.
            room=episode % 2 == 1,
        )
        if model.room:
            put_room(client, admin, model.event_id)
            # The buyers queue up first (as a sale's do), in a random order;
            # the server's inlet admits them while the rounds run.
            # (Through the server: the queue is in its Redis keys.)
            with httpx.Client(base_url=base_url, timeout=30) as http:
                for user in rng.sample(range(USERS), USERS):
                    joined = http.post(
                        f"/events/{model.event_id}/queue",
                        headers=auth_header(model.tokens[user]),
                    )
                    assert joined.status_code == 201, joined.text
                time.sleep(1.5)  # an inlet step or two
                entries = [
                    http.get(
                        f"/events/{model.event_id}/queue/me",
                        headers=auth_header(token),
                    ).json()
                    for token in model.tokens
                ]
            for user, entry in enumerate(entries):
                if entry.get("admission_token"):
                    model.admissions[user] = entry["admission_token"]
        for round_ in range(rounds):
            operations = plan_round(rng, model, admin, last=round_ == rounds - 1)
            answers = send_all(base_url, [call_for(op) for op in operations])
            resized_to = apply_answers(model, operations, answers)
            check(model, model.total, resized_to)
            # Now and then, let holds and offers lapse between rounds.
            if rng.random() < 0.2:
                time.sleep(rng.choice([1.0, 2.5]))
        payments_taken += model.payments_taken
        if model.room:
            rooms_sold += len(read_database(model.event_id)["admission_uses"])
        # Give every seat back, so the users' caps start afresh next episode.
        if not model.is_cancelled:
            client.delete(f"/events/{model.event_id}", headers=auth_header(admin))
    # The payments and the room were exercised, not only planned.
    print(f"model: {payments_taken} payments, {rooms_sold} sales through the room")
    assert payments_taken > 0
    assert rooms_sold > 0


def put_room(client, admin: str, event_id: int) -> None:
    """A room whose sale opened a minute ago; the server's inlet admits 120 a
    minute (two a second), no more than 6 live holds and admissions at once."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    body = {
        "enabled": True,
        "opens_at": (now - timedelta(minutes=2)).isoformat(),
        "on_sale_at": (now - timedelta(minutes=1)).isoformat(),
        "admit_per_minute": 120,
        "max_active_holds": 6,
    }
    response = client.put(
        f"/events/{event_id}/waiting-room", json=body, headers=auth_header(admin)
    )
    assert response.status_code == 200, response.text


def seed() -> int:
    return int(os.environ.get("TICKETMANIA_MODEL_SEED", "20261202"))


def test_random_interleavings_keep_every_invariant(client, admin, model_server):
    run_model(client, admin, model_server, seed=seed(), episodes=6, rounds=6)


@pytest.mark.long
def test_random_interleavings_keep_every_invariant_for_long(
    client, admin, model_server
):
    run_model(client, admin, model_server, seed=seed(), episodes=40, rounds=10)
