"""Stripe, through the official `stripe` package: PaymentIntents, refunds and
signed webhooks (Stripe's scheme: `Stripe-Signature: t=..., v1=...`, an
HMAC-SHA256 of `t.body`, checked by `stripe.Webhook.construct_event` with a
300 s tolerance against every configured secret)."""

from __future__ import annotations

from typing import Any

import stripe

from ticketmania.payments.provider import (
    InvalidWebhook,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)

TOLERANCE_SECONDS = 300


def verify_webhook(
    body: bytes, signature: str | None, secrets: list[str]
) -> WebhookEvent:
    """The event, if any secret verifies its signature within the tolerance."""
    if not signature or not secrets:
        raise InvalidWebhook()
    for secret in secrets:
        try:
            event = stripe.Webhook.construct_event(
                body, signature, secret, tolerance=TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, KeyError, TypeError, AttributeError):  # not a JSON event
            raise InvalidWebhook() from None
        try:
            return _event_of(event)
        except (KeyError, TypeError, AttributeError, ValueError):
            # Signed, but not the shape of an event Stripe sends.
            raise InvalidWebhook() from None
    raise InvalidWebhook()


def _event_of(event: Any) -> WebhookEvent:
    data = event["data"]["object"].to_dict()
    is_payment = str(data.get("object", "")) == "payment_intent"
    return WebhookEvent(
        id=str(event["id"]),
        type=str(event["type"]),
        payment_id=str(data["id"]) if is_payment else None,
        amount_minor=int(data.get("amount_received") or data.get("amount") or 0),
    )


class StripeProvider:
    name = "stripe"

    def __init__(
        self, *, secret_key: str, webhook_secrets: list[str], api_base: str
    ) -> None:
        addresses: Any = {"api": api_base} if api_base else {}
        self.client = stripe.StripeClient(secret_key, base_addresses=addresses)
        self.webhook_secrets = webhook_secrets

    def create(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment:
        # Cards, named: Stripe's API takes the list (the SDK's TypedDict of this
        # version leaves it out), and localstripe, the tests' Stripe, needs it.
        params: Any = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        intent = self.client.v1.payment_intents.create(
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _payment_of(intent)

    def retrieve(self, payment_id: str) -> ProviderPayment:
        return _payment_of(self.client.v1.payment_intents.retrieve(payment_id))

    def refund(
        self, *, payment_id: str, amount_minor: int, idempotency_key: str
    ) -> ProviderRefund:
        refund = self.client.v1.refunds.create(
            params={"payment_intent": payment_id, "amount": amount_minor},
            options={"idempotency_key": idempotency_key},
        )
        return ProviderRefund(id=str(refund.id), amount_minor=int(refund.amount))

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        return verify_webhook(body, signature, self.webhook_secrets)


def _payment_of(intent: Any) -> ProviderPayment:
    return ProviderPayment(
        id=str(intent.id),
        status=str(intent.status),
        amount_minor=int(intent.amount),
        client_secret=intent.client_secret,
    )
