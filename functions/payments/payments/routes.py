"""Payment routes: parse, call one rule, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from payments import logic
from payments.schemas import (
    LineCancelled,
    PaymentCreate,
    PaymentOut,
    RefundCreate,
    RefundOut,
    WebhookAnswer,
)
from ticketmania.cache import get_cache
from ticketmania.payments import get_provider
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentAdmin, CurrentUser, SessionDep
from ticketmania.web.params import PathId
from ticketmania.web.response_docs import error_responses

router = APIRouter(tags=["payments"])


@router.post(
    "/orders/{id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses={
        200: {"model": PaymentOut, "description": "The order's payment, made before"},
        **error_responses(401, 404, 409, 413, 422, 503),
    },
    summary="Pay for a pending order: its one payment at the provider (409 not_payable, hold_expired)",
)
async def start_payment(
    id: PathId,
    body: PaymentCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
) -> Any:
    started = logic.start_payment(
        session,
        get_provider(),
        order_id=id,
        user=user,
        provider_name=body.provider,
        now=datetime.now(UTC),
    )
    if not started.is_new:
        response.status_code = status.HTTP_200_OK
    return started.payment


@router.get(
    "/orders/{id}/payments",
    response_model=PaymentOut,
    responses=error_responses(401, 404, 422, 503),
    summary="The order's payment (its owner, or an admin; client_secret for the owner only)",
)
async def order_payment(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return logic.payment_of(session, get_provider(), order_id=id, user=user)


@router.post(
    "/payments/stripe/webhook",
    response_model=WebhookAnswer,
    responses=error_responses(400, 413, 503),
    summary="Stripe's events, signed (400 invalid_signature); each takes effect once",
)
async def stripe_webhook(
    request: Request,
    session: SessionDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> Any:
    took_effect = logic.take_webhook(
        session,
        get_provider(),
        body=await request.body(),
        signature=stripe_signature,
        max_seats_per_user=get_settings().max_seats_per_user_per_event,
        now=datetime.now(UTC),
    )
    return WebhookAnswer(took_effect=took_effect)


@router.post(
    "/orders/{id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses={
        200: {
            "model": RefundOut,
            "description": "A retry under the same Idempotency-Key",
        },
        **error_responses(401, 403, 404, 409, 413, 422, 503),
    },
    summary="Refund part of an order's payment (admin; 409 refund_exceeds_captured)",
)
async def refund_order(
    id: PathId,
    body: RefundCreate,
    admin: CurrentAdmin,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> Any:
    refund, is_new = logic.refund(
        session,
        get_provider(),
        order_id=id,
        amount_minor=body.amount_minor,
        admin=admin,
        idempotency_key=idempotency_key,
    )
    if not is_new:
        response.status_code = status.HTTP_200_OK
    return refund


@router.post(
    "/orders/{id}/lines/{line_id}/cancel",
    response_model=LineCancelled,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Cancel one line of a paid order (an admin, or its buyer where the "
    "event has buyers_cancel_lines): its seats back to its quotas, its price "
    "refunded; line_id is the line's ticket_type_id",
)
async def cancel_line(
    id: PathId, line_id: PathId, user: CurrentUser, session: SessionDep
) -> Any:
    return logic.cancel_line(
        session,
        get_provider(),
        get_cache(),
        order_id=id,
        ticket_type_id=line_id,
        user=user,
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )
