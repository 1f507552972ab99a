"""Booking routes: parse, call one logic function, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status

from bookings import holds, logic
from bookings.schemas import BookingCreate, BookingOut
from ticketmania.cache import get_cache
from ticketmania.rate_limits import parsed
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentAdmin, CurrentUser, SessionDep, TokenClaimsDep
from ticketmania.web.list_headers import page_headers
from ticketmania.web.params import Page, PathId, query_model, query_model_doc
from ticketmania.web.response_docs import error_responses, list_response_doc

router = APIRouter(tags=["bookings"])

AdmissionToken = Annotated[
    str | None,
    Header(
        alias="X-Admission-Token",
        min_length=1,
        max_length=2000,
        description="The waiting room's admission (GET /events/{id}/queue/me): "
        "needed while the event's room is on; one order or hold per admission",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retrying with the same key and body returns the original booking (200)",
        examples=["3f1c2a9e-7b0d-4c55-9a0e-2b8f1c7d9e10"],
    ),
]


@router.post(
    "/bookings",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        200: {
            "model": BookingOut,
            "description": "A retry under the same Idempotency-Key: the original",
        },
        **error_responses(401, 403, 404, 409, 413, 422, 429, 503),
    },
    summary="Book or hold seats (never oversold; 409 sold_out, event_closed, limit_exceeded, idempotency_mismatch)",
)
async def create_booking(
    body: BookingCreate,
    claims: TokenClaimsDep,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    admission_token: AdmissionToken = None,
) -> Any:
    settings = get_settings()
    outcome = logic.book_seats(
        session,
        get_cache(),
        claims=claims,
        event_id=body.event_id,
        seats=body.seats_booked,
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
    return outcome.booking


@router.get(
    "/bookings/my",
    response_model=list[BookingOut],
    responses={200: list_response_doc("Bookings"), **error_responses(401, 422, 503)},
    openapi_extra=query_model_doc(Page),
    summary="The caller's bookings, newest first",
)
async def my_bookings(
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
    return rows


@router.get(
    "/bookings/{id}",
    response_model=BookingOut,
    responses=error_responses(401, 404, 422, 503),
    summary="One booking (its owner or an admin; anyone else gets 404)",
)
async def get_booking(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return logic.get_booking(session, booking_id=id, user=user)


@router.post(
    "/bookings/{id}/cancel",
    response_model=BookingOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Cancel a booking or release a hold, returning its seats (409 already_cancelled, hold_expired, event_closed)",
)
async def cancel_booking(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return logic.cancel_booking(
        session,
        get_cache(),
        booking_id=id,
        user=user,
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )


@router.post(
    "/bookings/{id}/confirm",
    response_model=BookingOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Confirm a hold (409 hold_expired, already_cancelled, event_closed); "
    "a confirmed booking is answered as it is",
)
async def confirm_booking(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return holds.confirm_hold(session, booking_id=id, user=user, now=datetime.now(UTC))


@router.post(
    "/bookings/{id}/extend",
    response_model=BookingOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="Move a hold's end (409 hold_expired, hold_extension_limit, not_held)",
)
async def extend_booking(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    settings = get_settings()
    return holds.extend_hold(
        session,
        booking_id=id,
        user=user,
        now=datetime.now(UTC),
        extension_seconds=settings.hold_extension_seconds,
        longest_seconds=settings.hold_max_seconds,
    )


@router.get(
    "/events/{id}/bookings",
    response_model=list[BookingOut],
    responses={
        200: list_response_doc("Bookings"),
        **error_responses(401, 403, 404, 422, 503),
    },
    openapi_extra=query_model_doc(Page),
    summary="Every booking of one event, newest first (admin)",
)
async def event_bookings(
    request: Request,
    response: Response,
    id: PathId,
    page: Annotated[Page, Depends(query_model(Page))],
    admin: CurrentAdmin,
    session: SessionDep,
) -> Any:
    rows, total = logic.list_event_bookings(
        session, event_id=id, limit=page.limit, offset=page.offset
    )
    response.headers.update(
        page_headers(request, total=total, limit=page.limit, offset=page.offset)
    )
    return rows
