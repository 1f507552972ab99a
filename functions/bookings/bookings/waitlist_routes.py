"""Waitlist routes: parse, call one logic function, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from bookings import waitlist
from bookings.schemas import WaitlistEntryOut, WaitlistJoin
from ticketmania.cache import get_cache
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentAdmin, CurrentUser, SessionDep
from ticketmania.web.list_headers import page_headers
from ticketmania.web.params import Page, PathId, query_model, query_model_doc
from ticketmania.web.response_docs import error_responses, list_response_doc

router = APIRouter(tags=["waitlist"])


def entry_out(placed: waitlist.PlacedEntry) -> WaitlistEntryOut:
    entry = placed.entry
    return WaitlistEntryOut(
        event_id=entry.event_id,
        user_id=entry.user_id,
        seats=entry.seats,
        ticket_type_id=entry.ticket_type_id,
        status=entry.status,
        position=placed.position,
        booking_id=entry.booking_id,
        offer_expires_at=entry.offer_expires_at,
        created_at=entry.created_at,
    )


@router.post(
    "/events/{id}/waitlist",
    status_code=status.HTTP_201_CREATED,
    response_model=WaitlistEntryOut,
    responses=error_responses(401, 404, 409, 413, 422, 503),
    summary="Join the event's waitlist (409 seats_available, already_waiting, event_closed, limit_exceeded)",
)
async def join_waitlist(
    id: PathId, body: WaitlistJoin, user: CurrentUser, session: SessionDep
) -> Any:
    return entry_out(
        waitlist.join_line(
            session,
            event_id=id,
            user=user,
            seats=body.seats,
            ticket_type_id=body.ticket_type_id,
            max_seats_per_user=get_settings().max_seats_per_user_per_event,
            now=datetime.now(UTC),
        )
    )


@router.get(
    "/events/{id}/waitlist/me",
    response_model=WaitlistEntryOut,
    responses=error_responses(401, 404, 422, 503),
    summary="The caller's place in the event's waitlist (404 when never on it)",
)
async def my_waitlist_entry(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    return entry_out(
        waitlist.my_place(
            session,
            event_id=id,
            user=user,
            now=datetime.now(UTC),
            offer_seconds=get_settings().waitlist_offer_seconds,
        )
    )


@router.delete(
    "/events/{id}/waitlist/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404, 422, 503),
    summary="Leave the event's waitlist; an open offer's hold is released",
)
async def leave_waitlist(
    id: PathId, user: CurrentUser, session: SessionDep
) -> Response:
    waitlist.leave_line(
        session,
        get_cache(),
        event_id=id,
        user=user,
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/events/{id}/waitlist",
    response_model=list[WaitlistEntryOut],
    responses={
        200: list_response_doc("Waitlist entries"),
        **error_responses(401, 403, 404, 422, 503),
    },
    openapi_extra=query_model_doc(Page),
    summary="Every entry of the event's waitlist, in order (admin)",
)
async def event_waitlist(
    request: Request,
    response: Response,
    id: PathId,
    page: Annotated[Page, Depends(query_model(Page))],
    admin: CurrentAdmin,
    session: SessionDep,
) -> Any:
    entries, total = waitlist.list_line(
        session,
        event_id=id,
        limit=page.limit,
        offset=page.offset,
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )
    response.headers.update(
        page_headers(request, total=total, limit=page.limit, offset=page.offset)
    )
    return [entry_out(placed) for placed in entries]
