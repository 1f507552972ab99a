"""Order routes: an order is a booking of one or more lines of ticket types
(a booking is a one-line order of the event's default type), so each route
but the first is its booking route's rule, answered with the lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session

from bookings import holds, logic
from bookings.routes import AdmissionToken, IdempotencyKey
from bookings.schemas import (
    ORDER_STATUS,
    BookingOut,
    OrderCreate,
    OrderLineOut,
    OrderOut,
)
from ticketmania.cache import get_cache
from ticketmania.db import orders as order_table
from ticketmania.db.models import Booking
from ticketmania.rate_limits import parsed
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentUser, SessionDep, TokenClaimsDep
from ticketmania.web.list_headers import page_headers
from ticketmania.web.params import Page, PathId, query_model, query_model_doc
from ticketmania.web.response_docs import error_responses, list_response_doc

router = APIRouter(tags=["orders"])


def as_orders(
    session: Session,
    bookings: list[Booking],
    *,
    known_lines: dict[int, tuple[order_table.Line, ...]] | None = None,
) -> list[OrderOut]:
    """The bookings as orders. A one-line order's line is on its row; those of
    orders of several lines are read, unless `known_lines` has them (an order
    just placed)."""
    lines: dict[int, list[order_table.Line]] = {}
    unread = []
    for booking in bookings:
        if known_lines and booking.id in known_lines:
            lines[booking.id] = sorted(
                known_lines[booking.id], key=lambda line: line.ticket_type_id
            )
        elif booking.ticket_type_id is not None:
            lines[booking.id] = [
                order_table.Line(
                    booking.ticket_type_id,
                    booking.seats_booked,
                    booking.unit_price_minor or 0,
                )
            ]
        else:
            unread.append(booking.id)
    lines.update(order_table.lines_of(session, unread))
    orders = []
    for booking in bookings:
        # The status as a booking reads it (a hold past its end is expired).
        shown = BookingOut.model_validate(booking)
        orders.append(
            OrderOut(
                id=booking.id,
                user_id=booking.user_id,
                event_id=booking.event_id,
                status=ORDER_STATUS.get(shown.status, shown.status),
                currency=booking.currency,
                total_minor=booking.total_minor,
                refunded_minor=booking.refunded_minor or 0,
                created_at=booking.created_at,
                expires_at=booking.expires_at,
                lines=[
                    OrderLineOut(
                        ticket_type_id=line.ticket_type_id,
                        quantity=line.quantity,
                        unit_price_minor=line.unit_price_minor,
                    )
                    for line in lines[booking.id]
                ],
            )
        )
    return orders


def as_order(session: Session, booking: Booking) -> OrderOut:
    return as_orders(session, [booking])[0]


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses={
        200: {
            "model": OrderOut,
            "description": "A retry under the same Idempotency-Key: the original",
        },
        **error_responses(401, 403, 404, 409, 413, 422, 429, 503),
    },
    summary="Order (or hold) tickets of several types: every line or none "
    "(409 sold_out naming the type, not_on_sale, event_closed, limit_exceeded, "
    "idempotency_mismatch)",
)
async def create_order(
    body: OrderCreate,
    claims: TokenClaimsDep,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    admission_token: AdmissionToken = None,
) -> Any:
    settings = get_settings()
    lines = [
        order_table.OrderLine(
            ticket_type_id=line.ticket_type_id, quantity=line.quantity
        )
        for line in body.lines
    ]
    outcome = logic.place_order(
        session,
        get_cache(),
        claims=claims,
        event_id=body.event_id,
        lines=lines,
        digest=logic.order_request_hash(
            event_id=body.event_id, lines=lines, hold=body.hold
        ),
        idempotency_key=idempotency_key,
        max_seats_per_user=settings.max_seats_per_user_per_event,
        booking_rate=parsed(settings.rate_limit_booking),
        hold=body.hold,
        hold_seconds=settings.hold_seconds,
        offer_seconds=settings.waitlist_offer_seconds,
        now=datetime.now(UTC),
        admission_token=admission_token,
    )
    if outcome.allowance is not None:
        response.headers.update(outcome.allowance.headers)
    if not outcome.is_new:
        response.status_code = status.HTTP_200_OK
    if outcome.lines is not None:
        known = {outcome.booking.id: outcome.lines}
        return as_orders(session, [outcome.booking], known_lines=known)[0]
    return as_order(session, outcome.booking)


@router.get(
    "/orders/my",
    response_model=list[OrderOut],
    responses={200: list_response_doc("Orders"), **error_responses(401, 422, 503)},
    openapi_extra=query_model_doc(Page),
    summary="The caller's orders (bookings included), newest first",
)
async def my_orders(
    request: Request,
    response: Response,
    page: Annotated[Page, Depends(query_model(Page))],
    user: CurrentUser,
    session: SessionDep,
) -> Any:
    rows, total = logic.list_my_bookings(
        session, user=user, limit=page.limit, offset=page.offset
    )
    response.headers.update(
        page_headers(request, total=total, limit=page.limit, offset=page.offset)
    )
    return as_orders(session, rows)


@router.get(
    "/orders/{id}",
    response_model=OrderOut,
    responses=error_responses(401, 404, 422, 503),
    summary="One order (its owner or an admin; anyone else gets 404)",
)
async def get_order(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return as_order(session, logic.get_booking(session, booking_id=id, user=user))


@router.post(
    "/orders/{id}/cancel",
    response_model=OrderOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Cancel an order or release a held one: its seats go back to the "
    "event and to exactly the quotas it took from",
)
async def cancel_order(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    booking = logic.cancel_booking(
        session,
        get_cache(),
        booking_id=id,
        user=user,
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )
    return as_order(session, booking)


@router.post(
    "/orders/{id}/confirm",
    response_model=OrderOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Confirm a held order (409 hold_expired, already_cancelled, event_closed)",
)
async def confirm_order(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    booking = holds.confirm_hold(
        session, booking_id=id, user=user, now=datetime.now(UTC)
    )
    return as_order(session, booking)


@router.post(
    "/orders/{id}/extend",
    response_model=OrderOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Move a held order's end (409 hold_expired, hold_extension_limit, not_held)",
)
async def extend_order(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    settings = get_settings()
    booking = holds.extend_hold(
        session,
        booking_id=id,
        user=user,
        now=datetime.now(UTC),
        extension_seconds=settings.hold_extension_seconds,
        longest_seconds=settings.hold_max_seconds,
    )
    return as_order(session, booking)
