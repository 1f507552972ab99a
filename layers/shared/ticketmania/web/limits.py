"""The signup rate limit as a route dependency, per client address: 429
`rate_limited` past it, and the RateLimit-* headers on the responses it lets
through. (Bookings count theirs in ticketmania/admission.py, after the token's
version is checked.)"""

from __future__ import annotations

from fastapi import Request, Response

from ticketmania.cache import get_cache
from ticketmania.rate_limits import hit, parsed
from ticketmania.settings import get_settings


def client_address(request: Request) -> str:
    """The caller's address: in Lambda, API Gateway's requestContext.http.sourceIp
    (Mangum puts it in the ASGI scope); locally, the socket's peer. Never a
    header a client could set."""
    return request.client.host if request.client else "unknown"


async def limit_signups(request: Request, response: Response) -> None:
    allowance = hit(
        get_cache(),
        name="signup",
        subject=client_address(request),
        limit=parsed(get_settings().rate_limit_signup),
    )
    if allowance is not None:
        response.headers.update(allowance.headers)
