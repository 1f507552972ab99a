"""Ticket routes: parse, call one logic function, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response

from ticketmania import tickets
from ticketmania.cache import get_cache
from ticketmania.web.deps import (
    CurrentStaff,
    CurrentUser,
    SessionDep,
    TokenClaimsDep,
)
from ticketmania.web.params import PathId
from ticketmania.web.response_docs import error_responses
from tickets import logic
from tickets.schemas import (
    CheckInOut,
    CheckInRequest,
    DoorCountsOut,
    KeySet,
    TicketLine,
    TicketOut,
)

router = APIRouter(tags=["tickets"])

# The keys change only with a deploy that rotates them: door devices may keep
# them a while (and should refresh before an event).
KEYS_CACHE_CONTROL = "public, max-age=300"


@router.get(
    "/bookings/{id}/ticket",
    response_model=TicketOut,
    responses=error_responses(401, 404, 409, 422, 503),
    summary="A confirmed booking's ticket: its signed code and QR image (409 not_confirmed)",
)
async def ticket(id: PathId, user: CurrentUser, session: SessionDep) -> Any:
    issued = logic.ticket_of(
        session, tickets.get_key_ring(), booking_id=id, user=user, now=datetime.now(UTC)
    )
    return TicketOut(
        booking_id=issued.booking_id,
        event_id=issued.event_id,
        seats=issued.seats,
        holder=issued.holder,
        code=issued.code,
        lines=[
            TicketLine(ticket_type_id=type_id, quantity=quantity)
            for type_id, quantity in issued.lines
        ],
        qr_svg=tickets.qr_svg(issued.code),
    )


@router.get(
    "/bookings/{id}/ticket.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The code as a QR image"},
        **error_responses(401, 404, 409, 422, 503),
    },
    summary="A confirmed booking's ticket as a QR image (PNG)",
)
async def ticket_png(id: PathId, user: CurrentUser, session: SessionDep) -> Response:
    issued = logic.ticket_of(
        session, tickets.get_key_ring(), booking_id=id, user=user, now=datetime.now(UTC)
    )
    return Response(content=tickets.qr_png(issued.code), media_type="image/png")


@router.get(
    "/tickets/keys",
    response_model=KeySet,
    responses=error_responses(503),
    summary="The public keys that verify ticket codes, as a JWK Set (anyone)",
)
async def keys(response: Response) -> Any:
    response.headers["Cache-Control"] = KEYS_CACHE_CONTROL
    return tickets.key_set(tickets.get_key_ring())


@router.post(
    "/checkins",
    response_model=CheckInOut,
    responses=error_responses(
        401, 403, 404, 409, 413, 422, 503, validation_codes=("invalid_ticket",)
    ),
    summary="Admit a ticket once (staff or admin; 409 already_checked_in, booking_cancelled, wrong_event; 422 invalid_ticket)",
)
async def check_in(
    body: CheckInRequest, claims: TokenClaimsDep, session: SessionDep
) -> Any:
    # The caller's role and token version are checked in the check-in's own
    # statement (one round trip at the door's rush), not by a dependency's read.
    return logic.check_in(
        session,
        get_cache(),
        tickets.get_key_ring(),
        code=body.code,
        event_id=body.event_id,
        caller=claims,
    )


@router.get(
    "/events/{id}/checkins",
    response_model=DoorCountsOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="An event's door: confirmed seats, seats and bookings checked in (staff or admin)",
)
async def door_counts(id: PathId, staff: CurrentStaff, session: SessionDep) -> Any:
    return logic.door_counts(session, event_id=id)
