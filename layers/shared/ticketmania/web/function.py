"""One function's FastAPI app and its Lambda handler, built the same way for every domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import APIRouter, FastAPI
from mangum import Mangum

from ticketmania import snapstart
from ticketmania.observability import LambdaHandler, lambda_entry
from ticketmania.settings import get_settings
from ticketmania.web.body_limit import BodySizeLimit
from ticketmania.web.error_handlers import install_error_handlers
from ticketmania.web.response_headers import ResponseHeaders

API_DESCRIPTION = (
    "Event-ticket booking API. Errors are JSON `{detail, code}`; validation "
    "errors keep FastAPI's 422 shape plus `code: validation_error`."
)


@dataclass(frozen=True)
class LambdaFunction:
    app: FastAPI
    handler: LambdaHandler


def build_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    response_headers: Mapping[str, str] | None = None,
) -> FastAPI:
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
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ResponseHeaders, headers=response_headers)
    for router in routers:
        app.include_router(router)
    return app


def build_function(
    *,
    title: str,
    routers: Sequence[APIRouter],
    response_headers: Mapping[str, str] | None = None,
    warm_imports: Sequence[str] = (),
) -> LambdaFunction:
    """The app and a handler that runs it through Mangum under Powertools.

    Validates the settings first, so a bad configuration fails the cold start
    rather than the first request. Registers the SnapStart hooks
    (ticketmania/snapstart.py): `warm_imports` are the modules the function's
    routes import lazily, loaded before a snapshot is taken.
    """
    get_settings()
    app = build_app(title=title, routers=routers, response_headers=response_headers)
    asgi = Mangum(app, lifespan="off")

    def serve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return asgi(event, context)

    @lambda_entry
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return serve(event, context)

    # The warm-up before a snapshot goes around Powertools: it is no invocation
    # (no cold start to count, no request to log).
    snapstart.register(serve, warm_imports=warm_imports)
    return LambdaFunction(app=app, handler=handler)
