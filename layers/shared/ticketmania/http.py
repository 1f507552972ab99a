"""One place that turns errors into API.md's JSON: {"detail": ..., "code": ...}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketmania.errors import AppError, Conflict, InvalidValue, Unavailable
from ticketmania.observability import count, logger

RETRY_AFTER_SECONDS = 5

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}

# SQLSTATEs that mean "the database cannot serve this now", not "your request is wrong":
# lock_not_available, query_canceled (statement_timeout), too_many_connections,
# admin/crash shutdown, cannot_connect_now, and the whole connection-exception class.
_UNAVAILABLE_SQLSTATES = {"55P03", "57014", "53300", "57P01", "57P02", "57P03"}

# Described once, referenced by every route's `responses=`.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer."""
    return {
        status: {
            "description": _CODES_BY_STATUS.get(status, "error"),
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


def error_response(
    *,
    status: int,
    detail: Any,
    code: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "code": code}, status_code=status, headers=headers
    )


def sqlstate_of(exc: DBAPIError) -> str | None:
    """The SQLSTATE pg8000 put in its error, if any."""
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], dict):
        value = args[0].get("C")
        return str(value) if value else None
    return None


def classify_database_error(exc: DBAPIError) -> AppError | None:
    """Map a database error to the API error it means, or None for a real bug."""
    state = sqlstate_of(exc)
    if (
        exc.connection_invalidated
        or state is None
        or state in _UNAVAILABLE_SQLSTATES
        or state.startswith("08")
    ):
        return Unavailable(
            "The database is unavailable, try again shortly",
            retry_after=RETRY_AFTER_SECONDS,
        )
    if state.startswith("22"):  # data_exception: bad encoding, NUL, out of range
        return InvalidValue()
    if isinstance(exc, IntegrityError) or state.startswith("23"):
        # A CHECK or unique constraint caught what the logic should have: still a conflict.
        return Conflict("The request conflicts with the current state")
    return None


async def _on_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(
        status=exc.status, detail=exc.detail, code=exc.code, headers=exc.headers
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # `input` would echo what was sent (a password, say) back into responses and logs.
    errors = [
        {k: v for k, v in error.items() if k != "input"} for error in exc.errors()
    ]
    return error_response(
        status=422, detail=jsonable_encoder(errors), code="validation_error"
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES_BY_STATUS.get(exc.status_code, "error")
    return error_response(
        status=exc.status_code, detail=exc.detail, code=code, headers=exc.headers
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    mapped = classify_database_error(exc)
    if mapped is None:
        # No message, no traceback text: Postgres quotes values (emails, hashes) in them.
        logger.error("database error", extra=_database_error_fields(exc))
        return error_response(
            status=500, detail="Internal server error", code="internal_error"
        )
    if mapped.status == 503:
        count("DatabaseUnavailable")
    logger.warning(
        "database error mapped",
        extra={"sqlstate": sqlstate_of(exc), "status": mapped.status},
    )
    if isinstance(mapped, InvalidValue):
        # Keep the 422 shape of API.md: detail is a list of errors.
        detail = [{"loc": ["body"], "msg": mapped.detail, "type": "value_error"}]
        return error_response(status=422, detail=detail, code=mapped.code)
    return error_response(
        status=mapped.status,
        detail=mapped.detail,
        code=mapped.code,
        headers=mapped.headers,
    )


def _database_error_fields(exc: DBAPIError) -> dict[str, Any]:
    args = getattr(exc.orig, "args", ())
    fields = args[0] if args and isinstance(args[0], dict) else {}
    return {
        "sqlstate": fields.get("C"),
        "table": fields.get("t"),
        "constraint": fields.get("n"),
        "statement": exc.statement,
        "error_type": type(exc.orig).__name__,
    }


async def _on_pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection is busy: too much load, not a bug.
    count("DatabaseUnavailable")
    logger.warning("connection pool exhausted")
    return error_response(
        status=503,
        detail="The service is busy, try again shortly",
        code="unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return error_response(
        status=500, detail="Internal server error", code="internal_error"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeoutError, _on_pool_timeout)
    app.add_exception_handler(Exception, _on_unexpected_error)


class BodySizeLimit:
    """Refuse a body over `max_bytes` by its Content-Length, before anything reads it."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.max_bytes:
                response = error_response(
                    status=413,
                    detail=f"The request body must be at most {self.max_bytes} bytes",
                    code="payload_too_large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
