"""GET /health: is the database reachable, and what state is the cache in."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ticketmania.cache import get_cache
from ticketmania.db.engine import get_engine
from ticketmania.errors import RETRY_AFTER_SECONDS

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "down"]
    cache: Literal["ok", "down", "disabled"]


def database_state() -> Literal["ok", "down"]:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, OSError):
        return "down"
    return "ok"


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is down"}},
)
async def health() -> JSONResponse:
    database = database_state()
    body = Health(
        status="ok" if database == "ok" else "unavailable",
        database=database,
        cache=get_cache().ping(),
    )
    if database == "ok":
        return JSONResponse(body.model_dump())
    payload = body.model_dump() | {
        "detail": "The database is unavailable",
        "code": "unavailable",
    }
    return JSONResponse(
        payload, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
