"""Every error becomes `{"detail": ..., "code": ...}`: domain errors by their
class, framework errors by status, database errors by SQLSTATE, and anything
else a bare 500 with nothing of the exception in it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import to_jsonable_python
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketmania.db.failures import (
    classify_database_error,
    loggable_fields,
    sqlstate_of,
)
from ticketmania.errors import (
    CODE_FOR_STATUS,
    AppError,
    InvalidValue,
    Unavailable,
)
from ticketmania.observability import count, logger


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


def app_error_response(error: AppError) -> JSONResponse:
    if error.status == 422:
        # Keep the 422 shape: detail is a list of errors.
        kind = "value_error" if isinstance(error, InvalidValue) else error.code
        detail = [{"loc": list(error.location), "msg": error.detail, "type": kind}]
        return error_response(status=422, detail=detail, code=error.code)
    # An error may say more than its detail (already_checked_in: since when).
    body = {
        "detail": error.detail,
        "code": error.code,
        **to_jsonable_python(error.fields),
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def _on_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(exc)


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
    if exc.status_code == 400:
        # The framework's only 400: a body it could not even decode. Bad input is
        # a 422 everywhere else, so here too.
        return error_response(
            status=422,
            detail=[
                {
                    "type": "json_invalid",
                    "loc": ["body"],
                    "msg": "Body must be valid JSON",
                }
            ],
            code="validation_error",
        )
    code = CODE_FOR_STATUS.get(exc.status_code, "error")
    return error_response(
        status=exc.status_code, detail=exc.detail, code=code, headers=exc.headers
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    mapped = classify_database_error(exc)
    if mapped is None:
        # No message, no traceback text: Postgres quotes values (emails, hashes) in them.
        logger.error("database error", extra=loggable_fields(exc))
        return error_response(
            status=500, detail="Internal server error", code="internal_error"
        )
    if isinstance(mapped, Unavailable):
        count("DatabaseUnavailable")
    logger.warning(
        "database error mapped",
        extra={"sqlstate": sqlstate_of(exc), "status": mapped.status},
    )
    return app_error_response(mapped)


async def _on_pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    # Every pooled connection is busy: too much load, not a bug.
    count("DatabaseUnavailable")
    logger.warning("connection pool exhausted")
    return app_error_response(Unavailable("The service is busy, try again shortly"))


async def _on_network_error(request: Request, exc: Exception) -> JSONResponse:
    # A socket error no driver wrapped (pg8000 lets one through when a server
    # refuses a connection while shutting down): the backend is unreachable.
    count("DatabaseUnavailable")
    logger.warning("network error", extra={"error_type": type(exc).__name__})
    return app_error_response(
        Unavailable("The service is unavailable, try again shortly")
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
    app.add_exception_handler(OSError, _on_network_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
