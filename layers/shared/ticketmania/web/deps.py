"""FastAPI dependencies shared by every function: session, token, current user.

Every dependency and route is `async def` although the work inside blocks: a
Lambda container serves one request at a time, so its event loop has nothing
else to run, while a sync dependency or route would cost a worker thread per
invocation (Mangum starts each invocation as a new task, and anyio's threads do
not outlive it). The local server gets its concurrency from worker processes,
as Lambda does from containers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from ticketmania.db.engine import open_session
from ticketmania.db.models import User
from ticketmania.db.users import get_user
from ticketmania.errors import Forbidden, InvalidToken, NotAuthenticated
from ticketmania.observability import logger
from ticketmania.security import TokenClaims, read_access_token
from ticketmania.settings import get_settings

# tokenUrl makes Swagger's Authorize button log in through the form variant of /auth/login.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_session() -> AsyncIterator[Session]:
    with open_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_token_claims(
    token: Annotated[str | None, Depends(_bearer)],
) -> TokenClaims:
    if not token:
        raise NotAuthenticated()
    claims = read_access_token(
        token, secret=get_settings().secret_key.get_secret_value()
    )
    logger.append_keys(user_id=claims.user_id)
    return claims


TokenClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


async def get_current_user(claims: TokenClaimsDep, session: SessionDep) -> User:
    """The token's user, as the database has it now: gone or re-keyed means 401."""
    user = get_user(session, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise InvalidToken()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_admin(user: CurrentUser) -> User:
    # The role comes from the row just read, not the token: a demoted admin is a user.
    if user.role != "admin":
        raise Forbidden("Admin role required")
    return user


CurrentAdmin = Annotated[User, Depends(get_current_admin)]


async def get_current_staff(user: CurrentUser) -> User:
    # Door staff or an admin, by the row just read: check-ins and their counts.
    if user.role not in ("admin", "staff"):
        raise Forbidden("Staff or admin role required")
    return user


CurrentStaff = Annotated[User, Depends(get_current_staff)]
