"""Whether a booking request may go on, and what Redis knows of its event: one
round trip that checks the token is still current, counts the request against
the user's booking rate, and reads the event's sold-out marker.

The order is the point. A revoked token (an older version than the user's) is
refused before anything else, so it can neither replay a booking, nor read the
marker, nor spend its owner's allowance. When Redis cannot vouch for the
token's version (nothing remembered, or an older one: ticketmania/token_versions.py),
Postgres is asked once and the answer remembered. With Redis down, the token
is checked in Postgres, the rate is not limited (logged and counted: a cache
outage must not become an outage) and no marker is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import redis
from sqlalchemy.orm import Session

from ticketmania import sold_out, token_versions
from ticketmania.cache import Cache
from ticketmania.db import users
from ticketmania.errors import InvalidToken, RateLimited
from ticketmania.observability import count, logger
from ticketmania.rate_limits import Allowance, RateLimit, rate_key
from ticketmania.security import TokenClaims

# KEYS: the user's token version, the user's booking window, the event's marker
# and generation. ARGV: the token's version, the window's milliseconds.
# {0}: ask Postgres; {-1}: revoked; {1, hits, ms left, marked, generation}.
_ADMIT = """
local known = tonumber(redis.call('GET', KEYS[1]) or '')
local claimed = tonumber(ARGV[1])
if known == nil or known < claimed then return {0} end
if known > claimed then return {-1} end
local hits = redis.call('INCR', KEYS[2])
if hits == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
local marked = redis.call('GET', KEYS[3]) and 1 or 0
return {1, hits, redis.call('PTTL', KEYS[2]), marked, redis.call('GET', KEYS[4]) or ''}
"""

Verdict = Literal["ask_postgres", "revoked", "admitted"]


@dataclass(frozen=True)
class Admission:
    # What is left of the user's booking rate; None when it was not counted.
    allowance: Allowance | None
    marker: sold_out.Marker


@dataclass(frozen=True)
class _Answer:
    verdict: Verdict
    hits: int = 0
    left_ms: int = 0
    marker: sold_out.Marker = sold_out.NO_MARKER


def _ask_redis(
    cache: Cache, claims: TokenClaims, event_id: int, limit: RateLimit
) -> _Answer | None:
    def ask(client: redis.Redis) -> _Answer:
        reply = client.eval(
            _ADMIT,
            4,
            token_versions.version_key(claims.user_id),
            rate_key("booking", str(claims.user_id)),
            *sold_out.marker_keys(event_id),
            claims.token_version,
            limit.seconds * 1000,
        )
        if int(reply[0]) == 0:
            return _Answer("ask_postgres")
        if int(reply[0]) < 0:
            return _Answer("revoked")
        generation = reply[4]
        return _Answer(
            "admitted",
            hits=int(reply[1]),
            left_ms=int(reply[2]),
            marker=sold_out.Marker(
                is_sold_out=bool(int(reply[3])),
                generation=generation.decode()
                if isinstance(generation, bytes)
                else str(generation),
            ),
        )

    return cache.call(ask, None)


def refuse_revoked(session: Session, cache: Cache, *, claims: TokenClaims) -> None:
    """401 for a token revoked by a password change, before anything else is
    looked at: one Redis read when Redis vouches for the version, else Postgres
    (for routes that check the token in their own statement too, and must not
    answer a revoked one anything first). `session` must hold no connection."""

    def remembered(client: redis.Redis) -> int | None:
        value = client.get(token_versions.version_key(claims.user_id))
        return int(value) if value is not None else None

    known = cache.call(remembered, None)
    if known is not None and known > claims.token_version:
        raise InvalidToken()
    if known != claims.token_version:
        _check_in_postgres(session, cache, claims)


def _check_in_postgres(session: Session, cache: Cache, claims: TokenClaims) -> None:
    version = users.read_token_version(session, claims.user_id)
    if version != claims.token_version:
        raise InvalidToken()
    token_versions.remember(cache, claims.user_id, version)


def admit_booking(
    session: Session,
    cache: Cache,
    *,
    claims: TokenClaims,
    event_id: int,
    limit: RateLimit,
) -> Admission:
    """Refuse a revoked token (401) or a user past their rate (429); otherwise
    what is left of the rate and the event's marker. `session` must hold no
    connection (the version is read as a statement of its own)."""
    answer = _ask_redis(cache, claims, event_id, limit)
    if answer is None or answer.verdict == "ask_postgres":
        _check_in_postgres(session, cache, claims)
        if answer is not None:
            answer = _ask_redis(cache, claims, event_id, limit)
            if answer is not None and answer.verdict == "ask_postgres":
                answer = None  # nothing was remembered: as if Redis were down
    if answer is None:
        logger.warning(
            "rate limit not checked: the cache is unavailable",
            extra={"limit": "booking"},
        )
        count("RateLimitUnchecked")
        return Admission(allowance=None, marker=sold_out.NO_MARKER)
    if answer.verdict == "revoked":
        raise InvalidToken()
    allowance = Allowance(
        limit=limit.requests,
        remaining=max(limit.requests - answer.hits, 0),
        reset_seconds=max(math.ceil(answer.left_ms / 1000), 1),
    )
    if answer.hits > limit.requests:
        count("RateLimited")
        raise RateLimited(
            f"Too many requests: at most {limit}",
            retry_after=allowance.reset_seconds,
            headers=allowance.headers,
        )
    return Admission(allowance=allowance, marker=answer.marker)
