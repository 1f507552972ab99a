"""Request and response models of the payment routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class PaymentCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"provider": "stripe"}]}
    )

    provider: Literal["stripe", "test"] = Field(
        description="stripe; test only where no Stripe key is configured (local runs)"
    )


class PaymentOut(BaseModel):
    id: int
    order_id: int
    provider: str
    status: Literal["open", "succeeded"]
    amount_minor: int
    currency: str
    client_secret: str | None = Field(
        description="For the buyer's browser (Stripe.js confirms the payment with it)"
    )


class RefundCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"amount_minor": 1500}]}
    )

    amount_minor: Annotated[int, Field(ge=1, le=10**12, strict=True)]


class RefundOut(BaseModel):
    id: int
    order_id: int
    amount_minor: int
    status: Literal["pending", "succeeded"]
    reason: str


class WebhookAnswer(BaseModel):
    received: bool = True
    # False: this event took effect before (a replay or a retry).
    took_effect: bool


class LineCancelled(BaseModel):
    order_id: int
    ticket_type_id: int
    quantity: int
    refund: RefundOut | None = Field(
        description="The refund of the line's price, when the order was paid for"
    )
