"""What the product needs of a payment provider, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    # The provider's word; "succeeded" is the only one that pays an order.
    status: str
    amount_minor: int
    client_secret: str | None


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    amount_minor: int


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    # The payment the event is about, and what it received (payment_intent.*).
    payment_id: str | None
    amount_minor: int


class InvalidWebhook(Exception):
    """A webhook whose signature is missing, wrong or too old."""


class PaymentProvider(Protocol):
    name: str

    def create(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ProviderPayment: ...

    def retrieve(self, payment_id: str) -> ProviderPayment: ...

    def refund(
        self, *, payment_id: str, amount_minor: int, idempotency_key: str
    ) -> ProviderRefund: ...

    def parse_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        """The verified event; InvalidWebhook otherwise."""
        ...
