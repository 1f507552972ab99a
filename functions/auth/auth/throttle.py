"""Login throttling: failures counted in Redis per email and per client.

Fails open: with Redis down, logins are not throttled (and the outage is
logged and counted by `Cache`), because refusing every login would turn a
cache outage into a full outage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ticketmania.cache import Cache
from ticketmania.errors import RateLimited

# A client (IP) gets more room than one email: many users can share one NAT.
CLIENT_ALLOWANCE_FACTOR = 4


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_seconds: int


def _keys(email: str, client: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
    return f"login-failures:email:{digest}", f"login-failures:client:{client}"


def check_not_throttled(
    cache: Cache, policy: ThrottlePolicy, *, email: str, client: str
) -> None:
    email_key, client_key = _keys(email, client)

    def read(redis_client):  # type: ignore[no-untyped-def]
        pipe = redis_client.pipeline(transaction=False)
        pipe.get(email_key).ttl(email_key).get(client_key).ttl(client_key)
        return pipe.execute()

    email_count, email_ttl, client_count, client_ttl = cache.call(
        read, [None, -1, None, -1]
    )  # type: ignore[arg-type]
    if int(email_count or 0) >= policy.max_failures:
        raise RateLimited(
            "Too many failed attempts, try again later",
            retry_after=max(int(email_ttl or 1), 1),
        )
    if int(client_count or 0) >= policy.max_failures * CLIENT_ALLOWANCE_FACTOR:
        raise RateLimited(
            "Too many failed attempts, try again later",
            retry_after=max(int(client_ttl or 1), 1),
        )


def record_failure(
    cache: Cache, policy: ThrottlePolicy, *, email: str, client: str
) -> None:
    def write(redis_client):  # type: ignore[no-untyped-def]
        pipe = redis_client.pipeline(transaction=False)
        for key in _keys(email, client):
            # NX: the window starts at the first failure and is not pushed back by later ones.
            pipe.incr(key).expire(key, policy.window_seconds, nx=True)
        return pipe.execute()

    cache.call(write, None)


def clear_failures(cache: Cache, *, email: str) -> None:
    email_key, _ = _keys(email, "")
    cache.call(lambda redis_client: redis_client.delete(email_key), None)
