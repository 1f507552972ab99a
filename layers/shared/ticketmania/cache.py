"""Redis: a client built once per container, and a wrapper that never raises.

Redis is an accelerator here, never a dependency: every call goes through
`Cache`, which turns a Redis failure into "no answer", logs it, counts it, and
opens a short circuit breaker so a dead or slow server costs one timeout, not
one per request.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ticketmania.observability import count, logger
from ticketmania.redis_keys import redis_key
from ticketmania.settings import get_settings

T = TypeVar("T")


def build_redis(url: str, *, timeout_seconds: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        # redis-py retries three times by default: that would triple every stall.
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


class Cache:
    """Redis calls that return a fallback instead of raising."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        breaker_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.breaker_seconds = breaker_seconds
        self._clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_enabled(self) -> bool:
        return self.client is not None

    def forget_failures(self) -> None:
        """Close the breaker: the next call tries Redis again."""
        with self._lock:
            self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        """True while the breaker skips Redis after a failure."""
        return self._clock() < self._open_until

    def call(self, operation: Callable[[redis.Redis], T], fallback: T) -> T:
        if self.client is None or self.is_open:
            return fallback
        try:
            return operation(self.client)
        except (redis.RedisError, OSError, ValueError) as exc:
            with self._lock:
                self._open_until = self._clock() + self.breaker_seconds
            logger.warning(
                "cache unavailable, serving without it",
                extra={"error": type(exc).__name__},
            )
            count("CacheErrors")
            return fallback

    def ping(self) -> Literal["ok", "down", "disabled"]:
        """'ok', 'down' or 'disabled', for /health. Ignores the breaker."""
        if self.client is None:
            return "disabled"
        try:
            self.client.ping()
        except (redis.RedisError, OSError):
            return "down"
        return "ok"


@functools.cache
def get_cache() -> Cache:
    settings = get_settings()
    client = (
        build_redis(settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)
        if settings.redis_url
        else None
    )
    return Cache(client, breaker_seconds=settings.redis_breaker_seconds)


# Versioned keys: a namespace's entries live under "<ns>:v<version>:<key>", so one
# INCR of "<ns>:version" retires all of them at once (instant invalidation) while
# each entry's TTL bounds how stale it can be otherwise. A version that is not a
# number (a stray SET, say) is replaced by a fresh one rather than trusted.
_READ_VERSIONED = """
local version = redis.call('GET', KEYS[1]) or '0'
if not tonumber(version) then
  version = ARGV[3]
  redis.call('SET', KEYS[1], version)
end
return {version, redis.call('GET', ARGV[1] .. ':v' .. version .. ':' .. ARGV[2])}
"""
_BUMP_VERSION = """
if not tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return redis.call('INCR', KEYS[1])
"""
INVALIDATION_ATTEMPTS = 3


def _fresh_version() -> str:
    # Distinct from any version in use: counters start at 0 and grow by one.
    return str(time.time_ns())


def read_versioned(cache: Cache, namespace: str, key: str) -> tuple[int, bytes | None]:
    """(version, value) in one round trip; version -1 when Redis could not answer."""

    namespace = redis_key(namespace)

    def read(client: redis.Redis) -> tuple[int, bytes | None]:
        version, value = client.eval(
            _READ_VERSIONED, 1, f"{namespace}:version", namespace, key, _fresh_version()
        )
        return int(version), value or None

    miss: tuple[int, bytes | None] = (-1, None)
    return cache.call(read, miss)


def write_versioned(
    cache: Cache,
    namespace: str,
    version: int,
    key: str,
    value: bytes,
    *,
    ttl_seconds: float,
) -> None:
    """Store under the version read before the data was: a bump in between retires it."""
    ttl_ms = int(ttl_seconds * 1000)
    if version < 0 or ttl_ms <= 0:
        return
    namespace = redis_key(namespace)
    cache.call(
        lambda client: client.set(f"{namespace}:v{version}:{key}", value, px=ttl_ms),
        None,
    )


def call_around_breaker(
    cache: Cache,
    operation: Callable[[redis.Redis], object],
    *,
    failure_message: str,
    failure_metric: str,
) -> None:
    """Run a write that must not be skipped (an invalidation), even while the
    breaker is open, trying a few times; log and count when it never lands."""
    if cache.client is None:
        return
    for _ in range(INVALIDATION_ATTEMPTS):
        try:
            operation(cache.client)
            return
        except (redis.RedisError, OSError):
            continue
    logger.error(failure_message)
    count(failure_metric)


def bump_version(cache: Cache, namespace: str) -> None:
    """Retire every entry of the namespace after a write that changed them.

    Goes around the breaker and retries: a lost bump would serve stale entries
    for a whole TTL, where a skipped read only costs a database query.
    """
    namespace = redis_key(namespace)
    call_around_breaker(
        cache,
        lambda client: client.eval(
            _BUMP_VERSION, 1, f"{namespace}:version", _fresh_version()
        ),
        failure_message="cache invalidation failed: listings may lag until their TTL ends",
        failure_metric="CacheInvalidationFailures",
    )
