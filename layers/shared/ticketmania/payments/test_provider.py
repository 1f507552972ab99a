"""A provider with no account and no network, for local runs: payments are
made up from their idempotency key (a repeat is the same one), and a payment
succeeds when a webhook says so: `ticketmania pay ORDER_ID` sends one, signed
with Stripe's scheme and verified by the very code that verifies Stripe's."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from ticketmania.payments.provider import (
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)
from ticketmania.payments.stripe_provider import verify_webhook

# Verifies local webhooks when no STRIPE_WEBHOOK_SECRET is given; refused
# outside local and test runs (payments.get_provider).
LOCAL_WEBHOOK_SECRET = "whsec_ticketmania_local_development"


def sign_webhook(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `body`, as Stripe computes it."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{at}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={at},v1={digest}"


def payment_succeeded_event(
    *, event_id: str, payment_id: str, amount_minor: int, currency: str
) -> bytes:
    """A `payment_intent.succeeded` event body, shaped as Stripe's."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": payment_id,
                    "object": "payment_intent",
                    "amount": amount_minor,
                    "amount_received": amount_minor,
                    "currency": currency.lower(),
                    "status": "succeeded",
                }
            },
        }
    ).encode()


class TestProvider:
    name = "test"

    def __init__(self, *, webhook_secrets: list[str]) -> None:
        self.webhook_secrets = webhook_secrets

    def create(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment:
        made = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ProviderPayment(
            id=f"pi_test_{made}",
            status="requires_payment_method",
            amount_minor=amount_minor,
            client_secret=f"pi_test_{made}_secret_local",
        )

    def retrieve(self, payment_id: str) -> ProviderPayment:
        # Nothing is kept here: a test payment succeeds by its webhook alone.
        return ProviderPayment(
            id=payment_id,
            status="requires_payment_method",
            amount_minor=0,
            client_secret=f"{payment_id}_secret_local",
        )

    def refund(
        self, *, payment_id: str, amount_minor: int, idempotency_key: str
    ) -> ProviderRefund:
        made = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ProviderRefund(id=f"re_test_{made}", amount_minor=amount_minor)

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        return verify_webhook(body, signature, self.webhook_secrets)
