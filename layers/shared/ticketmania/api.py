"""Builds a function's FastAPI app the same way for every domain."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from ticketmania.http import BodySizeLimit, install_error_handlers

MAX_BODY_BYTES = 64 * 1024

API_DESCRIPTION = (
    "Event-ticket booking API. Errors are JSON `{detail, code}`; validation "
    "errors keep FastAPI's 422 shape plus `code: validation_error`."
)


def create_app(*, title: str, routers: Sequence[APIRouter]) -> FastAPI:
    # Docs are served once for all functions by the local server (and are not
    # routes on API Gateway), so the function apps carry none of their own.
    app = FastAPI(
        title=title,
        description=API_DESCRIPTION,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    # The largest body any route needs is an event (~6 KB); API Gateway allows 10 MB.
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    for router in routers:
        app.include_router(router)
    return app
