"""Ticket type and quota routes: parse, call one rule, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response, status

from events import ticket_types
from events.ticket_type_schemas import (
    QuotaCreate,
    QuotaOut,
    QuotaUpdate,
    TicketTypeCreate,
    TicketTypeOut,
    TicketTypeUpdate,
)
from ticketmania.web.deps import CurrentAdmin, SessionDep
from ticketmania.web.params import PathId
from ticketmania.web.response_docs import error_responses

router = APIRouter(tags=["ticket types"])


@router.get(
    "/events/{id}/ticket-types",
    response_model=list[TicketTypeOut],
    responses=error_responses(404, 422, 503),
    summary="The event's ticket types, each with its price, whether it is on sale "
    "and how many can be had",
)
async def list_ticket_types(id: PathId, session: SessionDep) -> Any:
    return ticket_types.list_types(session, event_id=id, now=datetime.now(UTC))


@router.post(
    "/events/{id}/ticket-types",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketTypeOut,
    responses=error_responses(401, 403, 404, 413, 422, 503),
    summary="Add a ticket type to the event (admin)",
)
async def create_ticket_type(
    id: PathId, body: TicketTypeCreate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return ticket_types.create_type(
        session, event_id=id, fields=body.model_dump(), now=datetime.now(UTC)
    )


@router.patch(
    "/ticket-types/{id}",
    response_model=TicketTypeOut,
    responses=error_responses(401, 403, 404, 413, 422, 503),
    summary="Change a ticket type (admin); orders already made keep their prices",
)
async def update_ticket_type(
    id: PathId, body: TicketTypeUpdate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return ticket_types.update_type(
        session,
        ticket_type_id=id,
        changes=body.model_dump(exclude_unset=True),
        now=datetime.now(UTC),
    )


@router.delete(
    "/ticket-types/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Delete a ticket type nothing was sold of (admin; 409 ticket_type_in_use)",
)
async def delete_ticket_type(
    id: PathId, admin: CurrentAdmin, session: SessionDep
) -> Response:
    ticket_types.delete_type(session, ticket_type_id=id, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/events/{id}/quotas",
    response_model=list[QuotaOut],
    responses=error_responses(401, 403, 404, 422, 503),
    summary="The event's quotas with their counts (admin)",
)
async def list_quotas(id: PathId, admin: CurrentAdmin, session: SessionDep) -> Any:
    return ticket_types.list_quotas(session, event_id=id)


@router.post(
    "/events/{id}/quotas",
    status_code=status.HTTP_201_CREATED,
    response_model=QuotaOut,
    responses=error_responses(401, 403, 404, 413, 422, 503),
    summary="Add a quota counting seats across ticket types (admin)",
)
async def create_quota(
    id: PathId, body: QuotaCreate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return ticket_types.create_quota(session, event_id=id, fields=body.model_dump())


@router.get(
    "/quotas/{id}",
    response_model=QuotaOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="A quota's size, confirmed, held and available seats, and whether "
    "it is closed (admin)",
)
async def get_quota(id: PathId, admin: CurrentAdmin, session: SessionDep) -> Any:
    return ticket_types.get_quota(session, quota_id=id)


@router.patch(
    "/quotas/{id}",
    response_model=QuotaOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    summary="Rename, resize (409 quota_below_used) or re-type a quota (admin)",
)
async def update_quota(
    id: PathId, body: QuotaUpdate, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return ticket_types.update_quota(
        session, quota_id=id, changes=body.model_dump(exclude_unset=True)
    )
