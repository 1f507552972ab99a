"""Waiting room routes: parse, call one rule, shape the response."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response, status

from events import waiting_room
from events.waiting_room_schemas import (
    QueueEntryOut,
    QueueMeOut,
    QueueStateOut,
    WaitingRoomIn,
    WaitingRoomOut,
)
from ticketmania.cache import get_cache
from ticketmania.web.deps import CurrentAdmin, SessionDep, TokenClaimsDep
from ticketmania.web.params import PathId
from ticketmania.web.response_docs import error_responses

router = APIRouter(tags=["waiting room"])


@router.put(
    "/events/{id}/waiting-room",
    response_model=WaitingRoomOut,
    responses=error_responses(401, 403, 404, 413, 422, 503),
    summary="Set the event's waiting room (admin): while enabled, its sale needs "
    "an admission from the queue",
)
async def put_waiting_room(
    id: PathId, body: WaitingRoomIn, admin: CurrentAdmin, session: SessionDep
) -> Any:
    return waiting_room.put_room(session, event_id=id, fields=body.model_dump())


@router.get(
    "/events/{id}/waiting-room",
    response_model=WaitingRoomOut,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="The event's waiting room (admin)",
)
async def get_waiting_room(id: PathId, admin: CurrentAdmin, session: SessionDep) -> Any:
    return waiting_room.get_room(session, event_id=id)


@router.post(
    "/events/{id}/queue",
    status_code=status.HTTP_201_CREATED,
    response_model=QueueEntryOut,
    responses={
        200: {"model": QueueEntryOut, "description": "Joined before: the same entry"},
        **error_responses(401, 404, 409, 422, 503),
    },
    summary="Join the event's queue (409 queue_not_open; 503 while the room "
    "cannot admit anyone)",
)
async def join_queue(
    id: PathId, claims: TokenClaimsDep, session: SessionDep, response: Response
) -> Any:
    entry, is_new = waiting_room.join(
        session, get_cache(), event_id=id, claims=claims, now=datetime.now(UTC)
    )
    if not is_new:
        response.status_code = status.HTTP_200_OK
    response.headers["Cache-Control"] = "no-store"
    return QueueEntryOut(**asdict(entry))


@router.get(
    "/events/{id}/queue/me",
    response_model=QueueMeOut,
    responses=error_responses(401, 404, 422, 503),
    summary="Your place in the queue and, once admitted, your admission token",
)
async def my_queue_entry(
    id: PathId, claims: TokenClaimsDep, session: SessionDep, response: Response
) -> Any:
    entry = waiting_room.my_entry(
        session, get_cache(), event_id=id, claims=claims, now=datetime.now(UTC)
    )
    response.headers["Cache-Control"] = "no-store"
    return QueueMeOut(**asdict(entry))


@router.get(
    "/events/{id}/queue",
    response_model=QueueStateOut,
    responses=error_responses(404, 422, 503),
    summary="How far the queue has come (anyone; cacheable for a second)",
)
async def queue_state(id: PathId, session: SessionDep, response: Response) -> Any:
    state = waiting_room.queue_state(
        session, get_cache(), event_id=id, now=datetime.now(UTC)
    )
    response.headers["Cache-Control"] = "public, max-age=1"
    return QueueStateOut(**asdict(state))
