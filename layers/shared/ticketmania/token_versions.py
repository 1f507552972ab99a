"""Each user's current token version, remembered in Redis so that the booking
path can refuse a revoked token before any shortcut it answers from Redis (a
replay, the sold-out marker, the rate limit), without a database read.

Postgres stays the truth (`users.token_version`, bumped by a password change),
and versions only ever grow, so what Redis remembers is read one way only:

- remembered > the token's: the token is revoked (401), for certain;
- remembered = the token's: the token is current;
- remembered < the token's, or nothing remembered: ask Postgres.

A value is only ever raised (a late write of an older version cannot undo a
password change's), and lives REMEMBER_SECONDS. A password change forgets the
version before its commit and remembers the new one after it, both around the
breaker; the one window left is a change whose every Redis write fails while
Redis keeps the old value: the old token then passes the Redis shortcuts (never
a booking: the booking statement checks Postgres) for at most REMEMBER_SECONDS.
"""

from __future__ import annotations

import redis

from ticketmania.cache import Cache, call_around_breaker
from ticketmania.redis_keys import redis_key

REMEMBER_SECONDS = 600

# Raise, never lower: a reader that saw version 3 before a password change
# committed 4 must not put 3 back.
_REMEMBER = """
local known = tonumber(redis.call('GET', KEYS[1]) or '-1') or -1
if tonumber(ARGV[1]) >= known then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
"""


def version_key(user_id: int) -> str:
    return redis_key(f"token-version:{user_id}")


def remember(cache: Cache, user_id: int, version: int) -> None:
    """After reading the user's version from Postgres (a login, a booking's check)."""
    cache.call(
        lambda client: client.eval(
            _REMEMBER, 1, version_key(user_id), version, REMEMBER_SECONDS
        ),
        None,
    )


def forget_before_change(cache: Cache, user_id: int) -> None:
    """Before a password change commits: from now on every booking asks Postgres."""
    call_around_breaker(
        cache,
        lambda client: client.delete(version_key(user_id)),
        failure_message="token version not forgotten before a password change",
        failure_metric="TokenVersionFailures",
    )


def remember_after_change(cache: Cache, user_id: int, version: int) -> None:
    """After a password change committed: the older tokens are refused from Redis."""

    def write(client: redis.Redis) -> object:
        return client.eval(
            _REMEMBER, 1, version_key(user_id), version, REMEMBER_SECONDS
        )

    call_around_breaker(
        cache,
        write,
        failure_message="token version not remembered after a password change",
        failure_metric="TokenVersionFailures",
    )
