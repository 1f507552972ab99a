"""Payments through the real `stripe` SDK against localstripe (a fake Stripe
API on 127.0.0.1), with webhooks signed by Stripe's scheme."""

from __future__ import annotations

import os
import time
import uuid
import warnings

import pytest
import stripe
from sqlalchemy import text

from tests.factories import (
    assert_quotas_balance,
    auth_header,
    create_event,
    create_quota,
    create_ticket_type,
    order,
    seat_books,
    user_token,
)
from tests.integration.conftest import TEST_WEBHOOK_SECRET
from tests.integration.test_races import released_together
from ticketmania.db.engine import get_engine
from ticketmania.jobs import run_job
from ticketmania.payments.test_provider import payment_succeeded_event, sign_webhook

PRICE = 1500


def stripe_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        os.environ["STRIPE_SECRET_KEY"],
        base_addresses={"api": os.environ["STRIPE_API_BASE"]},
    )


def buyer_pays(payment_id: str) -> None:
    """What Stripe.js does in the buyer's browser: a card, then confirm."""
    client = stripe_client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2035,
                    "cvc": "123",
                },
            }
        )
        client.v1.payment_intents.update(payment_id, params={"payment_method": card.id})
        client.v1.payment_intents.confirm(payment_id)


def provider_payment_id(order_id: int) -> str:
    with get_engine().connect() as connection:
        return str(
            connection.scalar(
                text("SELECT provider_payment_id FROM payments WHERE booking_id = :id"),
                {"id": order_id},
            )
        )


def webhook(
    client,
    payment_id: str,
    *,
    event_id: str | None = None,
    secret=TEST_WEBHOOK_SECRET,
    timestamp: int | None = None,
    amount: int = PRICE,
):
    body = payment_succeeded_event(
        event_id=event_id or f"evt_{uuid.uuid4().hex}",
        payment_id=payment_id,
        amount_minor=amount,
        currency="EUR",
    )
    return body, {"Stripe-Signature": sign_webhook(body, secret, timestamp=timestamp)}


def post_webhook(client, body, headers):
    return client.post(
        "/payments/stripe/webhook",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


@pytest.fixture
def priced(client, admin):
    event = create_event(client, admin, total_seats=20)
    kind = create_ticket_type(
        client, admin, event["id"], name="Seat", price_minor=PRICE
    )
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(kind["id"], 1)])
    assert placed.status_code == 201, placed.text
    return {"event": event, "type": kind, "token": token, "order": placed.json()}


def order_of(client, priced):
    return client.get(
        f"/orders/{priced['order']['id']}", headers=auth_header(priced["token"])
    ).json()


def start(client, priced):
    return client.post(
        f"/orders/{priced['order']['id']}/payments",
        json={"provider": "stripe"},
        headers=auth_header(priced["token"]),
    )


def test_a_priced_order_is_pending_until_its_payment_succeeds(client, priced):
    assert priced["order"]["status"] == "pending"
    assert priced["order"]["expires_at"] is not None
    confirm = client.post(
        f"/orders/{priced['order']['id']}/confirm", headers=auth_header(priced["token"])
    )
    assert confirm.json()["code"] == "payment_required"
    first = start(client, priced)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["amount_minor"], body["currency"], body["status"]) == (
        PRICE,
        "EUR",
        "open",
    )
    assert body["client_secret"]
    again = start(client, priced)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    payment_id = provider_payment_id(priced["order"]["id"])
    buyer_pays(payment_id)
    answer = post_webhook(client, *webhook(client, payment_id))
    assert answer.status_code == 200, answer.text
    assert answer.json()["took_effect"] is True
    paid = order_of(client, priced)
    assert paid["status"] == "paid" and paid["expires_at"] is None
    ticket = client.get(
        f"/bookings/{priced['order']['id']}/ticket",
        headers=auth_header(priced["token"]),
    )
    assert ticket.status_code == 200


def test_a_free_order_is_paid_at_once_and_takes_no_payment(client, admin):
    event = create_event(client, admin, total_seats=5)
    _, token = user_token(client)
    (default,) = client.get(f"/events/{event['id']}/ticket-types").json()
    placed = order(client, token, event["id"], [(default["id"], 1)]).json()
    assert placed["status"] == "paid"
    refused = client.post(
        f"/orders/{placed['id']}/payments",
        json={"provider": "stripe"},
        headers=auth_header(token),
    )
    assert refused.json()["code"] == "not_payable"


@pytest.mark.parametrize("how", ["forged", "stale", "missing", "other secret"])
def test_a_webhook_not_signed_by_stripe_changes_nothing(client, priced, how):
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    body, headers = webhook(client, payment_id)
    if how == "forged":
        body = body.replace(b'"amount": 1500', b'"amount": 1')
    elif how == "stale":
        body, headers = webhook(client, payment_id, timestamp=int(time.time()) - 400)
    elif how == "missing":
        headers = {}
    else:
        body, headers = webhook(client, payment_id, secret="whsec_someone_else")
    answer = post_webhook(client, body, headers)
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert order_of(client, priced)["status"] == "pending"


def test_rotating_secrets_both_verify(client, priced, monkeypatch):
    from ticketmania.payments import get_provider
    from ticketmania.settings import get_settings

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f"whsec_new_one,{TEST_WEBHOOK_SECRET}")
    get_settings.cache_clear()
    get_provider.cache_clear()
    try:
        start(client, priced)
        payment_id = provider_payment_id(priced["order"]["id"])
        answer = post_webhook(
            client, *webhook(client, payment_id, secret="whsec_new_one")
        )
        assert answer.status_code == 200, answer.text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_provider.cache_clear()


def test_the_same_event_delivered_ten_times_at_once_takes_effect_once(
    client, priced, live_server
):
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    body, headers = webhook(client, payment_id)

    def deliver(http):
        answer = http.post(
            "/payments/stripe/webhook",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        return answer.status_code, answer.json()

    answers = released_together(live_server, [deliver] * 10)
    assert [status for status, _ in answers] == [200] * 10, answers
    assert sum(1 for _, body in answers if body["took_effect"]) == 1
    with get_engine().connect() as connection:
        confirmations = connection.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE topic = 'booking.confirmed' "
                "AND payload->>'booking_id' = CAST(:id AS text)"
            ),
            {"id": priced["order"]["id"]},
        )
    assert confirmations == 1
    assert order_of(client, priced)["status"] == "paid"


def end_hold(order_id: int) -> None:
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE bookings SET expires_at = now() - interval '1 second', "
                "created_at = created_at - interval '1 hour' WHERE id = :id"
            ),
            {"id": order_id},
        )


def let_go(event_id: int) -> None:
    """The event's ended holds settled (by a booking that needed the seats,
    say): their seats back, their provider asked nothing."""
    from datetime import UTC, datetime

    from ticketmania import seat_release
    from ticketmania.db.engine import open_session

    with open_session() as session:
        seat_release.settle(session, event_id, now=datetime.now(UTC), offer_seconds=60)
        session.commit()


def refund_status(order_id: int) -> str | None:
    with get_engine().connect() as connection:
        return connection.scalar(
            text(
                "SELECT r.status FROM refunds r JOIN payments p ON p.id = r.payment_id "
                "WHERE p.booking_id = :id"
            ),
            {"id": order_id},
        )


def paid_then_let_go(client, event_id: int, type_id: int, quantity: int):
    """An order of the type, its payment taken by Stripe, its hold ended and
    let go before the webhook arrives: ({order, token}, the payment's id)."""
    _, token = user_token(client)
    placed = order(client, token, event_id, [(type_id, quantity)]).json()
    priced = {"order": placed, "token": token}
    start(client, priced)
    payment_id = provider_payment_id(placed["id"])
    buyer_pays(payment_id)
    end_hold(placed["id"])
    let_go(event_id)
    return priced, payment_id


def test_a_success_after_the_hold_was_let_go_takes_its_seats_again(client, admin):
    """Seats and quota still free: the order is taken again and paid, its
    seats out of the event's shards and its quota once more."""
    event = create_event(client, admin, total_seats=20)
    kind = create_ticket_type(
        client, admin, event["id"], name="Seat", price_minor=PRICE
    )
    create_quota(client, admin, event["id"], size=5, ticket_type_ids=[kind["id"]])
    priced, payment_id = paid_then_let_go(client, event["id"], kind["id"], 2)
    placed, token = priced["order"], priced["token"]
    assert seat_books(event["id"]).available == 20
    assert (
        post_webhook(client, *webhook(client, payment_id, amount=2 * PRICE)).status_code
        == 200
    )
    paid = order_of(client, priced)
    assert (paid["status"], paid["refunded_minor"]) == ("paid", 0)
    books = seat_books(event["id"])
    assert (books.available, books.confirmed) == (18, 2)
    (quota,) = assert_quotas_balance(event["id"])
    assert (quota.used, quota.unsold) == (2, 3)
    assert refund_status(placed["id"]) is None
    ticket = client.get(f"/bookings/{placed['id']}/ticket", headers=auth_header(token))
    assert ticket.status_code == 200


@pytest.mark.parametrize("gone", ["event seats", "quota seats", "line waiting"])
def test_a_success_after_its_seats_went_to_others_is_refunded_in_full(
    client, admin, gone
):
    """The seats of the let-go order were sold since (the event's, or its
    quota's while the event has more), or people wait in the line for them:
    expired, refunded in full, nobody else's seat taken."""
    seats = 1 if gone != "quota seats" else 10
    event = create_event(client, admin, total_seats=seats)
    kind = create_ticket_type(
        client, admin, event["id"], name="Seat", price_minor=PRICE
    )
    if gone == "quota seats":
        create_quota(client, admin, event["id"], size=1, ticket_type_ids=[kind["id"]])
    priced, payment_id = paid_then_let_go(client, event["id"], kind["id"], 1)
    placed = priced["order"]
    _, other = user_token(client)
    if gone == "line waiting":
        taken = order(client, other, event["id"], [(kind["id"], 1)], hold=True)
        assert taken.status_code == 201, taken.text
        _, third = user_token(client)
        joined = client.post(
            f"/events/{event['id']}/waitlist",
            json={"seats": 1, "ticket_type_id": kind["id"]},
            headers=auth_header(third),
        )
        assert joined.status_code == 201, joined.text
        cancelled = client.post(
            f"/orders/{taken.json()['id']}/cancel", headers=auth_header(other)
        )
        assert cancelled.status_code == 200, cancelled.text
    else:
        taken = order(client, other, event["id"], [(kind["id"], 1)], hold=True)
        assert taken.status_code == 201, taken.text
    before = seat_books(event["id"])
    assert post_webhook(client, *webhook(client, payment_id)).status_code == 200
    lost = order_of(client, priced)
    assert (lost["status"], lost["refunded_minor"]) == ("expired", PRICE)
    assert refund_status(placed["id"]) == "succeeded"
    assert seat_books(event["id"]) == before
    assert_quotas_balance(event["id"])


def test_a_lost_webhook_is_recovered_before_the_hold_is_let_go(client, priced):
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    buyer_pays(payment_id)  # its webhook never arrives
    end_hold(priced["order"]["id"])
    outcome = run_job("expire-holds")
    assert outcome["paid_before_expiry"] == 1
    assert order_of(client, priced)["status"] == "paid"


def test_refunds_never_exceed_the_capture_and_a_key_refunds_once(client, admin, priced):
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    buyer_pays(payment_id)
    post_webhook(client, *webhook(client, payment_id))
    url = f"/orders/{priced['order']['id']}/refunds"
    headers = {**auth_header(admin), "Idempotency-Key": "refund-1"}
    first = client.post(url, json={"amount_minor": 500}, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    again = client.post(url, json={"amount_minor": 500}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = client.post(url, json={"amount_minor": 400}, headers=headers)
    assert other.json()["code"] == "idempotency_mismatch"
    over = client.post(url, json={"amount_minor": 1001}, headers=auth_header(admin))
    assert over.json()["code"] == "refund_exceeds_captured"
    assert order_of(client, priced)["refunded_minor"] == 500


def test_cancelling_a_paid_order_refunds_the_rest(client, admin, priced):
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    buyer_pays(payment_id)
    post_webhook(client, *webhook(client, payment_id))
    client.post(
        f"/orders/{priced['order']['id']}/refunds",
        json={"amount_minor": 300},
        headers=auth_header(admin),
    )
    cancelled = client.post(
        f"/orders/{priced['order']['id']}/cancel", headers=auth_header(priced["token"])
    )
    assert cancelled.json()["status"] == "cancelled"
    assert run_job("refund-pending") == {"refunded": 1}
    assert order_of(client, priced)["refunded_minor"] == PRICE
    assert run_job("refund-pending") == {"refunded": 0}


def test_a_503_from_us_makes_stripe_send_again_and_the_retry_takes_effect(
    client, priced
):
    """The order's row is held by a long transaction: the webhook's lock times
    out (503 with Retry-After, nothing written); Stripe's retry then pays."""
    start(client, priced)
    payment_id = provider_payment_id(priced["order"]["id"])
    buyer_pays(payment_id)
    body, headers = webhook(client, payment_id)
    with get_engine().connect() as blocker:
        blocker.execute(
            text("SELECT 1 FROM payments WHERE booking_id = :id FOR UPDATE"),
            {"id": priced["order"]["id"]},
        )
        refused = post_webhook(client, body, headers)
        blocker.rollback()
    assert refused.status_code == 503 and "Retry-After" in refused.headers
    assert order_of(client, priced)["status"] == "pending"
    retried = post_webhook(client, body, headers)
    assert retried.status_code == 200 and retried.json()["took_effect"] is True
    assert order_of(client, priced)["status"] == "paid"


def test_cancelling_one_line_gives_its_seats_to_its_quotas_and_refunds_its_price(
    client, admin
):
    from tests.factories import assert_quotas_balance, create_quota, seat_books

    event = create_event(client, admin, total_seats=30)
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=5000)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=1000)
    vip_quota = create_quota(
        client, admin, event["id"], size=5, ticket_type_ids=[vip["id"]]
    )
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(vip["id"], 2), (std["id"], 3)]).json()
    priced = {"order": placed, "token": token, "event": event}
    start(client, priced)
    payment_id = provider_payment_id(placed["id"])
    buyer_pays(payment_id)
    post_webhook(client, *webhook(client, payment_id, amount=13000))
    assert order_of(client, priced)["status"] == "paid"
    url = f"/orders/{placed['id']}/lines/{vip['id']}/cancel"
    refused = client.post(url, headers=auth_header(token))
    assert refused.status_code == 403  # an admin's
    done = client.post(url, headers=auth_header(admin))
    assert done.status_code == 200, done.text
    assert done.json()["quantity"] == 2
    assert done.json()["refund"]["amount_minor"] == 10000
    after = order_of(client, priced)
    assert after["refunded_minor"] == 10000 and after["status"] == "paid"
    assert [(line["ticket_type_id"], line["quantity"]) for line in after["lines"]] == [
        (std["id"], 3)
    ]
    quota_now = client.get(
        f"/quotas/{vip_quota['id']}", headers=auth_header(admin)
    ).json()
    assert quota_now["available"] == 5 and quota_now["confirmed"] == 0
    assert seat_books(event["id"]).available == 27
    assert_quotas_balance(event["id"])
    last = client.post(
        f"/orders/{placed['id']}/lines/{std['id']}/cancel", headers=auth_header(admin)
    )
    assert last.status_code == 409  # the last line: cancel the order
    again = client.post(url, headers=auth_header(admin))
    assert again.status_code == 404


def test_a_buyer_cancels_a_line_of_their_own_where_the_event_allows_it(client, admin):
    event = create_event(client, admin, total_seats=30, buyers_cancel_lines=True)
    assert event["buyers_cancel_lines"] is True
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=5000)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=1000)
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(vip["id"], 1), (std["id"], 1)]).json()
    priced = {"order": placed, "token": token, "event": event}
    start(client, priced)
    payment_id = provider_payment_id(placed["id"])
    buyer_pays(payment_id)
    post_webhook(client, *webhook(client, payment_id, amount=6000))
    url = f"/orders/{placed['id']}/lines/{vip['id']}/cancel"
    _, stranger = user_token(client)
    assert client.post(url, headers=auth_header(stranger)).status_code == 404
    done = client.post(url, headers=auth_header(token))
    assert done.status_code == 200, done.text
    assert done.json()["refund"]["amount_minor"] == 5000
    assert order_of(client, priced)["refunded_minor"] == 5000
    # Once the organisers take it back, the buyer's own cancellation is refused.
    patched = client.patch(
        f"/events/{event['id']}",
        json={"buyers_cancel_lines": False},
        headers=auth_header(admin),
    )
    assert patched.status_code == 200 and patched.json()["buyers_cancel_lines"] is False
    second = order(client, token, event["id"], [(vip["id"], 1), (std["id"], 1)]).json()
    start(client, {"order": second, "token": token})
    second_payment = provider_payment_id(second["id"])
    buyer_pays(second_payment)
    post_webhook(client, *webhook(client, second_payment, amount=6000))
    refused = client.post(
        f"/orders/{second['id']}/lines/{vip['id']}/cancel", headers=auth_header(token)
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


RACE_ROUNDS = 10


def test_a_success_racing_the_holds_settlement_ends_paid_or_refunded(
    client, admin, live_server
):
    """The webhook and the settlement of the ended hold released together,
    round after round. The seats are there for it either way (settled first,
    the order is taken again): every round ends paid with its seats, never
    paid without them, never refunded as well."""
    import threading
    from datetime import UTC, datetime

    import httpx

    from tests.factories import seat_books
    from ticketmania import seat_release
    from ticketmania.db.engine import open_session

    event = create_event(client, admin, total_seats=RACE_ROUNDS)
    kind = create_ticket_type(
        client, admin, event["id"], name="Seat", price_minor=PRICE
    )
    outcomes = []
    for _ in range(RACE_ROUNDS):
        _, token = user_token(client)
        placed = order(client, token, event["id"], [(kind["id"], 1)]).json()
        priced = {"order": placed, "token": token}
        start(client, priced)
        payment_id = provider_payment_id(placed["id"])
        buyer_pays(payment_id)
        end_hold(placed["id"])
        body, headers = webhook(client, payment_id)
        barrier = threading.Barrier(2, timeout=30)
        answers = []

        def deliver(
            barrier=barrier, answers=answers, body=body, headers=headers
        ) -> None:
            with httpx.Client(base_url=live_server, timeout=30) as http:
                http.get("/health")
                barrier.wait()
                answers.append(
                    http.post(
                        "/payments/stripe/webhook",
                        content=body,
                        headers={**headers, "Content-Type": "application/json"},
                    ).status_code
                )

        def settle(barrier=barrier) -> None:
            with open_session() as session:
                barrier.wait()
                seat_release.settle(
                    session, event["id"], now=datetime.now(UTC), offer_seconds=60
                )
                session.commit()

        threads = [threading.Thread(target=deliver), threading.Thread(target=settle)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [200]
        after = order_of(client, priced)
        outcomes.append(after["status"])
        assert (after["status"], after["refunded_minor"]) == ("paid", 0)
        books = seat_books(event["id"])
        assert books.available == books.total - books.confirmed
    assert outcomes == ["paid"] * RACE_ROUNDS


def test_a_late_success_racing_a_buyer_for_the_last_seat_takes_it_once(
    client, admin, live_server
):
    """A let-go order's success and another buyer's order of the one seat it
    gave back, released together round after round: exactly one of them has
    the seat; the late payment is paid or refunded in full, never both, never
    paid without the seat."""
    outcomes = []
    for _ in range(RACE_ROUNDS):
        event = create_event(client, admin, total_seats=1)
        kind = create_ticket_type(
            client, admin, event["id"], name="Seat", price_minor=PRICE
        )
        priced, payment_id = paid_then_let_go(client, event["id"], kind["id"], 1)
        body, headers = webhook(client, payment_id)
        _, other = user_token(client)

        def deliver(http, body=body, headers=headers):
            return http.post(
                "/payments/stripe/webhook",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            ).status_code

        def buy(http, other=other, event=event, kind=kind):
            return http.post(
                "/orders",
                json={
                    "event_id": event["id"],
                    "lines": [{"ticket_type_id": kind["id"], "quantity": 1}],
                },
                headers=auth_header(other),
            ).status_code

        delivered, bought = released_together(live_server, [deliver, buy])
        assert delivered == 200 and bought in (201, 409)
        late = order_of(client, priced)
        if late["status"] == "paid":
            assert late["refunded_minor"] == 0 and bought == 409
        else:
            assert (late["status"], late["refunded_minor"]) == ("expired", PRICE)
            assert bought == 201
        outcomes.append(late["status"])
        books = seat_books(event["id"])
        assert books.available == 0 and books.confirmed + books.held == 1
    assert set(outcomes) <= {"paid", "expired"}


def test_ticketmania_pay_sends_a_signed_success_that_pays(client, priced, live_server):
    """The local stand-in for Stripe's webhook: `ticketmania pay ORDER_ID`."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    start(client, priced)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localdev.cli",
            "pay",
            str(priced["order"]["id"]),
            "--url",
            live_server,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"took_effect":true' in done.stdout
    assert order_of(client, priced)["status"] == "paid"


def test_a_signed_body_that_is_not_a_stripe_event_is_a_400_not_a_500(client, priced):
    for body in (
        b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {}}',
        b'{"id": "evt_2", "object": "event", "type": "payment_intent.succeeded", '
        b'"data": {"object": "not an object"}}',
        b"[]",
    ):
        headers = {"Stripe-Signature": sign_webhook(body, TEST_WEBHOOK_SECRET)}
        answer = post_webhook(client, body, headers)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert order_of(client, priced)["status"] == "pending"
