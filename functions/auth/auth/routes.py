"""Auth routes: parse, call one logic function, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from auth import logic
from auth.schemas import (
    LoginRequest,
    PasswordChangeRequest,
    SignupRequest,
    TokenOut,
    UserOut,
)
from auth.throttle import ThrottlePolicy
from ticketmania.cache import get_cache
from ticketmania.settings import get_settings
from ticketmania.web.deps import CurrentUser, SessionDep
from ticketmania.web.limits import client_address, limit_signups
from ticketmania.web.response_docs import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "the email"},
                        "password": {"type": "string"},
                    },
                }
            },
        },
    }
}


async def read_login_body(request: Request) -> LoginRequest:
    """JSON `{email, password}`, or the OAuth2 password form Swagger's Authorize sends."""
    content_type = request.headers.get("content-type", "")
    data: Any
    if content_type.startswith(_FORM_TYPES):
        form = await request.form()
        data = {"email": form.get("username"), "password": form.get("password")}
    else:
        try:
            data = await request.json()
        except (
            ValueError,
            RecursionError,
        ) as exc:  # RecursionError: absurdly nested JSON
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body",),
                        "msg": "Body must be valid JSON",
                    }
                ]
            ) from exc
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from exc


def _throttle_policy() -> ThrottlePolicy:
    settings = get_settings()
    return ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_failure_window_seconds,
    )


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    dependencies=[Depends(limit_signups)],
    responses=error_responses(409, 413, 422, 429, 503),
    summary="Create a user account (role is always 'user')",
)
async def signup(body: SignupRequest, session: SessionDep) -> Any:
    return logic.sign_up(
        session, name=body.name, email=str(body.email), password=body.password
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses=error_responses(401, 413, 422, 429, 503),
    openapi_extra=_LOGIN_BODY,
    summary="Exchange email and password for a bearer token",
)
async def login(
    request: Request,
    body: Annotated[LoginRequest, Depends(read_login_body)],
    session: SessionDep,
) -> Any:
    settings = get_settings()
    issued = logic.log_in(
        session,
        get_cache(),
        email=body.email,
        password=body.password,
        client=client_address(request),
        policy=_throttle_policy(),
        secret=settings.secret_key.get_secret_value(),
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
        now=datetime.now(UTC),
    )
    return TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        user=UserOut.model_validate(issued.user),
    )


@router.get(
    "/me",
    response_model=UserOut,
    responses=error_responses(401, 503),
    summary="The user the token belongs to",
)
async def me(user: CurrentUser) -> Any:
    return user


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 413, 422, 429, 503),
    summary="Change the password; every token issued before stops working",
)
async def change_password(
    request: Request,
    body: PasswordChangeRequest,
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    logic.change_password(
        session,
        get_cache(),
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client_address(request),
        policy=_throttle_policy(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
