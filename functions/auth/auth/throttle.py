"""Login throttling: attempts counted in Redis per email and per client.

Each attempt is counted before the password is checked, in one atomic script,
so parallel guesses cannot all slip in under the limit; a success then takes
its attempt back. Fails open: with Redis down, logins are not throttled (the
outage is logged and counted by `Cache`), because refusing every login would
turn a cache outage into a full outage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from ticketmania.cache import Cache
from ticketmania.errors import RateLimited
from ticketmania.redis_keys import redis_key

# A client (IP) gets more room than one email: many users can share one NAT.
CLIENT_ALLOWANCE_FACTOR = 4

# INCR every key, start its window on the first attempt, return counts then TTLs.
_COUNT_ATTEMPT = """
local result = {}
for i, key in ipairs(KEYS) do
  result[i] = redis.call('INCR', key)
  if result[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  result[#KEYS + i] = redis.call('TTL', key)
end
return result
"""


# DEL the email's count; take one off the client's only while it lives (a DECR of
# an expired key would leave a count with no expiry behind).
_FORGET_ATTEMPT = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
"""


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_seconds: int


def _keys(email: str, client: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
    return (
        redis_key(f"login-attempts:email:{digest}"),
        redis_key(f"login-attempts:client:{client}"),
    )


def count_attempt(
    cache: Cache, policy: ThrottlePolicy, *, email: str, client: str
) -> None:
    """Count one attempt; 429 when this one is past the limit for the email or client."""
    email_key, client_key = _keys(email, client)

    def count(redis_client: redis.Redis) -> list[int]:
        # redis-py types eval for its sync and async clients at once.
        return redis_client.eval(  # type: ignore[no-any-return]
            _COUNT_ATTEMPT, 2, email_key, client_key, policy.window_seconds
        )

    counts = cache.call(count, None)
    if counts is None:
        return
    email_count, client_count, email_ttl, client_ttl = (int(value) for value in counts)
    if email_count > policy.max_failures:
        raise RateLimited(
            "Too many attempts, try again later", retry_after=max(email_ttl, 1)
        )
    if client_count > policy.max_failures * CLIENT_ALLOWANCE_FACTOR:
        raise RateLimited(
            "Too many attempts, try again later", retry_after=max(client_ttl, 1)
        )


def forget_attempts(cache: Cache, *, email: str, client: str) -> None:
    """After a success: the email starts afresh and the client gets its attempt back."""
    email_key, client_key = _keys(email, client)

    def forget(redis_client: redis.Redis) -> None:
        redis_client.eval(_FORGET_ATTEMPT, 2, email_key, client_key)

    cache.call(forget, None)
