"""Request-rate limits as route dependencies: signups per client address,
bookings per user. Each answers 429 `rate_limited` past its limit, and puts
the RateLimit-* headers on the responses it lets through."""

from __future__ import annotations

import functools

from fastapi import Request, Response

from ticketmania.cache import get_cache
from ticketmania.rate_limits import RateLimit, hit
from ticketmania.settings import get_settings
from ticketmania.web.deps import TokenClaimsDep


def client_address(request: Request) -> str:
    """The caller's address: in Lambda, API Gateway's requestContext.http.sourceIp
    (Mangum puts it in the ASGI scope); locally, the socket's peer. Never a
    header a client could set."""
    return request.client.host if request.client else "unknown"


@functools.cache
def _limit(spec: str) -> RateLimit:
    return RateLimit.parse(spec)


async def limit_signups(request: Request, response: Response) -> None:
    allowance = hit(
        get_cache(),
        name="signup",
        subject=client_address(request),
        limit=_limit(get_settings().rate_limit_signup),
    )
    if allowance is not None:
        response.headers.update(allowance.headers)


async def limit_bookings(claims: TokenClaimsDep, response: Response) -> None:
    allowance = hit(
        get_cache(),
        name="booking",
        subject=str(claims.user_id),
        limit=_limit(get_settings().rate_limit_booking),
    )
    if allowance is not None:
        response.headers.update(allowance.headers)
