"""Request-rate limits in Redis: so many requests per window, per subject.

A fixed window per subject, counted by one Lua script (increment, start the
window on the first request, read what is left of it): atomic, so requests
at once cannot slip past the limit between a read and a write. Fails open:
with Redis down, requests are not limited (logged and counted), as a cache
outage must not become a full outage; API Gateway's stage throttling stays the
outer guard.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import redis

from ticketmania.cache import Cache
from ticketmania.errors import RateLimited
from ticketmania.observability import count, logger
from ticketmania.redis_keys import redis_key

_UNITS = {"second": 1, "minute": 60, "hour": 3600}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")

# INCR, start the window's clock on its first request, then the count and the
# milliseconds the window has left.
_HIT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {hits, redis.call('PTTL', KEYS[1])}
"""


@dataclass(frozen=True)
class RateLimit:
    requests: int
    seconds: int

    @classmethod
    def parse(cls, spec: str) -> RateLimit:
        """`N/second`, `N/minute` or `N/hour`."""
        match = _SPEC.match(spec)
        if match is None or int(match.group(1)) < 1:
            raise ValueError("must be N/second, N/minute or N/hour, with N at least 1")
        return cls(requests=int(match.group(1)), seconds=_UNITS[match.group(2)])

    def __str__(self) -> str:
        unit = next(name for name, seconds in _UNITS.items() if seconds == self.seconds)
        return f"{self.requests}/{unit}"


@functools.cache
def parsed(spec: str) -> RateLimit:
    """A setting's limit, parsed once per container."""
    return RateLimit.parse(spec)


@dataclass(frozen=True)
class Allowance:
    """What a request left of its subject's window: the RateLimit-* headers."""

    limit: int
    remaining: int
    reset_seconds: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def rate_key(name: str, subject: str) -> str:
    """The Redis key counting `subject`'s requests against `name`'s limit."""
    return redis_key(f"rate:{name}:{subject}")


def hit(cache: Cache, *, name: str, subject: str, limit: RateLimit) -> Allowance | None:
    """Count one request of `subject` against `name`'s limit. 429 past the limit;
    None when Redis could not tell (the request goes on)."""

    def count_hit(client: redis.Redis) -> list[int]:
        return client.eval(  # type: ignore[no-any-return]  # typed for sync and async at once
            _HIT, 1, rate_key(name, subject), limit.seconds * 1000
        )

    counted = cache.call(count_hit, None)
    if counted is None:
        logger.warning(
            "rate limit not checked: the cache is unavailable", extra={"limit": name}
        )
        count("RateLimitUnchecked")
        return None
    hits, left_ms = (int(value) for value in counted)
    reset = max(math.ceil(left_ms / 1000), 1)
    allowance = Allowance(
        limit=limit.requests,
        remaining=max(limit.requests - hits, 0),
        reset_seconds=reset,
    )
    if hits > limit.requests:
        count("RateLimited")
        raise RateLimited(
            f"Too many requests: at most {limit}",
            retry_after=reset,
            headers=allowance.headers,
        )
    return allowance
