"""Event routes: parse, call one logic function, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from events import logic
from events.schemas import EventCreate, EventOut, EventQuery, EventUpdate
from ticketmania.cache import get_cache
from ticketmania.db.engine import open_session
from ticketmania.listings import cached_listing
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentAdmin, SessionDep
from ticketmania.web.list_headers import page_headers
from ticketmania.web.params import PathId, query_model, query_model_doc
from ticketmania.web.response_docs import error_responses, list_response_doc

router = APIRouter(tags=["events"])


@router.get(
    "/events",
    response_model=list[EventOut],
    responses={
        200: list_response_doc("Events matching the filters"),
        **error_responses(422, 503),
    },
    openapi_extra=query_model_doc(EventQuery),
    summary="List upcoming events (cached; availability may lag by EVENTS_CACHE_TTL seconds)",
)
async def list_events(
    request: Request, query: Annotated[EventQuery, Depends(query_model(EventQuery))]
) -> Response:
    listing = cached_listing(
        open_session, get_cache(), query, ttl_seconds=get_settings().events_cache_ttl
    )
    headers = page_headers(
        request, total=listing.total, limit=query.limit, offset=query.offset
    )
    # Sent as stored: the JSON was validated when it was built, not again per hit.
    return Response(
        content=listing.body, media_type="application/json", headers=headers
    )


@router.get(
    "/events/{id}",
    response_model=EventOut,
    responses=error_responses(404, 422, 503),
    summary="One event, read from the database",
)
async def get_event(id: PathId, session: SessionDep) -> Any:
    return logic.get_event(session, id)


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses=error_responses(401, 403, 413, 422, 503),
    summary="Create an event (admin)",
)
async def create_event(
    body: EventCreate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return logic.create_event(session, get_cache(), fields=body.model_dump())


@router.patch(
    "/events/{id}",
    response_model=EventOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    summary="Change any subset of an event's fields (admin); total_seats moves available_seats",
)
async def update_event(
    id: PathId, body: EventUpdate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return logic.update_event(
        session,
        get_cache(),
        event_id=id,
        changes=body.model_dump(exclude_unset=True),
        now=datetime.now(UTC),
        offer_seconds=get_settings().waitlist_offer_seconds,
    )


@router.delete(
    "/events/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Cancel an event (admin): hidden from reads, its bookings kept as cancelled",
)
async def cancel_event(
    id: PathId, admin: CurrentAdmin, session: SessionDep
) -> Response:
    logic.cancel_event(session, get_cache(), event_id=id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
