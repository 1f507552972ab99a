"""PaymentsFunction's handler fed the events/ samples, in its template
environment (Stripe's provider, against the tests' localstripe), on one
connection through the pooler."""

import pytest

from tests.factories import (
    create_event,
    create_ticket_type,
    make_admin,
    order,
    user_token,
)
from tests.integration.test_payments import buyer_pays, provider_payment_id, webhook
from tests.lambda_events import invoke, load_event, with_overrides

FUNCTION = "PaymentsFunction"


@pytest.fixture(scope="module")
def handler():
    from payments.app import handler

    return handler


def test_pay_and_refund_through_the_handler_and_its_samples(handler, client):
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=10)
    kind = create_ticket_type(client, admin, event["id"], name="Seat", price_minor=1500)
    _, token = user_token(client)
    order_id = str(order(client, token, event["id"], [(kind["id"], 1)]).json()["id"])
    started = invoke(
        handler,
        with_overrides(
            load_event("http_api_payments_start"),
            token=token,
            path_parameters={"id": order_id},
        ),
    )
    assert started.status == 201, started.json()
    payment_id = provider_payment_id(int(order_id))
    buyer_pays(payment_id)
    body, headers = webhook(client, payment_id)
    unsigned = invoke(handler, load_event("http_api_payments_stripe_webhook"))
    assert unsigned.status == 400
    signed = invoke(
        handler,
        with_overrides(
            load_event("http_api_payments_stripe_webhook"),
            body=body.decode(),
            headers={"stripe-signature": headers["Stripe-Signature"]},
        ),
    )
    assert signed.status == 200 and signed.json()["took_effect"] is True
    refunded = invoke(
        handler,
        with_overrides(
            load_event("http_api_payments_refund"),
            token=admin,
            path_parameters={"id": order_id},
        ),
    )
    assert refunded.status == 201, refunded.json()
    assert refunded.json()["amount_minor"] == 1500
