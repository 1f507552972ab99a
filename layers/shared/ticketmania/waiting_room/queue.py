"""An event's queue in Redis: who joined, at which position, and how far the
inlet has let buyers in (`serving`).

Keys (under the deployment's prefix, `room:{event}:...`):
- `entries`  hash user id -> position (0: in the pre-queue, not yet placed)
- `pre`      list of the pre-queue's user ids, in the order they joined
- `last`     the last position given
- `placed`   set once the pre-queue has its positions
- `serving`  positions up to this one are admitted
- `steps`    sorted set: score = `serving` after an inlet step, member =
             "serving:ms" (when those positions were admitted)
- `inlet`    hash of the inlet's own state (credit, last run, lapses counted)

Redis's own clock (TIME) decides whether a join is before `on_sale_at`, so
servers with clocks apart cannot put a late join in the pre-queue. The
pre-queue is placed once, by whoever comes first after `on_sale_at` (a join
or the inlet), with one permutation drawn from the operating system's
randomness: how early someone joined the pre-queue says nothing about
their place.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis

from ticketmania.cache import Cache
from ticketmania.errors import Unavailable
from ticketmania.redis_keys import redis_key

# Seconds a client is told to wait when Redis cannot answer for the queue.
RETRY_AFTER_SECONDS = 2
_PARTS = ("entries", "pre", "last", "placed", "serving", "steps", "inlet")


def keys(event_id: int) -> list[str]:
    return [redis_key(f"room:{event_id}:{part}") for part in _PARTS]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# KEYS: entries, pre, last, placed. ARGV: user id, on_sale_at (ms).
# {state, position, now ms}: state 0 = joined before, 1 = joined now,
# 2 = the pre-queue must be placed first (nothing written).
_JOIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local position = redis.call('HGET', KEYS[1], ARGV[1])
if position then return {0, tonumber(position), now} end
if now < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], 0)
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return {1, 0, now}
end
if redis.call('EXISTS', KEYS[4]) == 0 then return {2, 0, now} end
position = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], position)
return {1, position, now}
"""

# KEYS: entries, pre, last, placed. ARGV: on_sale_at (ms), then one position
# per pre-queue entry, in the list's order. 1 placed now, 0 placed before,
# -1 too early, -2 the permutation is not of the pre-queue's size.
_PLACE = """
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) < tonumber(ARGV[1]) then
  return -1
end
local members = redis.call('LRANGE', KEYS[2], 0, -1)
if #members ~= #ARGV - 1 then return -2 end
for i, user in ipairs(members) do
  redis.call('HSET', KEYS[1], user, ARGV[i + 1])
end
redis.call('SET', KEYS[3], #members)
redis.call('SET', KEYS[4], 1)
return 1
"""

# KEYS: serving, steps, last. ARGV: how many more, now (ms). The new serving
# (never past the last position given, never lower than before).
_ADVANCE = """
local serving = tonumber(redis.call('GET', KEYS[1]) or '0')
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local target = math.min(serving + tonumber(ARGV[1]), last)
if target > serving then
  redis.call('SET', KEYS[1], target)
  redis.call('ZADD', KEYS[2], target, target .. ':' .. ARGV[2])
  return target
end
return serving
"""

# KEYS: entries, serving, steps, last, pre, placed. ARGV: user id (or '').
# {position or -1, serving, ms the position was admitted or -1, last, pre-queue
# length, placed}.
_READ = """
local position = -1
if ARGV[1] ~= '' then position = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1') end
local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
local admitted = -1
if position > 0 and position <= serving then
  local step = redis.call('ZRANGEBYSCORE', KEYS[3], position, '+inf', 'LIMIT', 0, 1)[1]
  if step then admitted = tonumber(string.match(step, ':(%d+)$')) end
end
return {position, serving, admitted, tonumber(redis.call('GET', KEYS[4]) or '0'),
        redis.call('LLEN', KEYS[5]), redis.call('EXISTS', KEYS[6])}
"""


def _call(cache: Cache, operation: Any) -> Any:
    """Run a Redis operation for the queue; Redis down is a 503: the room
    fails closed, it never lets anyone through without Redis."""
    failed = object()
    answer = cache.call(operation, failed)
    if answer is failed:
        raise Unavailable(
            "The waiting room cannot take anyone right now: try again shortly",
            retry_after=RETRY_AFTER_SECONDS,
        )
    return answer


def place_prequeue(cache: Cache, event_id: int, *, on_sale_at: datetime) -> bool:
    """Give the pre-queue its positions (one random permutation), once; True
    when they are placed (now or before)."""
    entries, pre, last, placed = keys(event_id)[:4]

    def place(client: redis.Redis) -> bool:
        # Every inlet step asks: once placed, one EXISTS, not a permutation
        # of the whole pre-queue drawn and sent again each second.
        if client.exists(placed):
            return True
        for _ in range(3):
            size = int(client.llen(pre))
            positions = list(range(1, size + 1))
            secrets.SystemRandom().shuffle(positions)
            done = int(
                client.eval(
                    _PLACE, 4, entries, pre, last, placed, _ms(on_sale_at), *positions
                )
            )
            if done >= 0:
                return True
            if done == -1:
                return False
        return False

    return bool(_call(cache, place))


Joined = Literal["before", "now"]


def join(
    cache: Cache, event_id: int, user_id: int, *, on_sale_at: datetime
) -> tuple[Joined, int]:
    """The user's entry (made now, or found): ('now'|'before', position), 0
    while in the pre-queue."""
    entries, pre, last, placed = keys(event_id)[:4]

    def attempt(client: redis.Redis) -> list[int]:
        return [
            int(value)
            for value in client.eval(
                _JOIN, 4, entries, pre, last, placed, user_id, _ms(on_sale_at)
            )
        ]

    for _ in range(3):
        state, position, _now = _call(cache, attempt)
        if state != 2:
            return ("before" if state == 0 else "now"), position
        place_prequeue(cache, event_id, on_sale_at=on_sale_at)
    raise Unavailable("The queue is being placed: try again", retry_after=1)


@dataclass(frozen=True)
class Snapshot:
    """The queue as Redis has it now, and one user's place in it."""

    # The user's position: None when not in the queue, 0 in the pre-queue.
    position: int | None
    serving: int
    # When the user's position was admitted (None: not admitted).
    admitted_at: datetime | None
    last: int
    prequeue: int
    is_placed: bool

    @property
    def waiting(self) -> int:
        return self.last - self.serving if self.is_placed else self.prequeue


def read(cache: Cache, event_id: int, user_id: int | None = None) -> Snapshot:
    entries, pre, last, placed, serving, steps, _ = keys(event_id)

    def snapshot(client: redis.Redis) -> list[int]:
        return [
            int(value)
            for value in client.eval(
                _READ, 6, entries, serving, steps, last, pre, placed,
                "" if user_id is None else user_id,
            )
        ]  # fmt: skip

    position, serving_now, admitted, last_now, prequeue, is_placed = _call(
        cache, snapshot
    )
    return Snapshot(
        position=None if position < 0 else position,
        serving=serving_now,
        admitted_at=datetime.fromtimestamp(admitted / 1000, UTC)
        if admitted >= 0
        else None,
        last=last_now,
        prequeue=prequeue,
        is_placed=bool(is_placed),
    )


def advance(cache: Cache, event_id: int, by: int, *, now: datetime) -> int:
    """Let `by` more positions in (never past the last one given); the new serving."""
    _, _, last, _, serving, steps, _ = keys(event_id)
    return int(
        _call(
            cache,
            lambda client: client.eval(
                _ADVANCE, 3, serving, steps, last, max(by, 0), _ms(now)
            ),
        )
    )


def serving_at(cache: Cache, event_id: int, moment: datetime) -> int:
    """How far `serving` had come by `moment` (0 before the first step)."""
    steps = keys(event_id)[5]

    def lookup(client: redis.Redis) -> int:
        # Members are "serving:ms"; both grow together, so scan from the top.
        for member in client.zrevrange(steps, 0, -1):
            text = member.decode() if isinstance(member, bytes) else str(member)
            serving, ms = (int(part) for part in text.split(":"))
            if ms <= _ms(moment):
                return serving
        return 0

    return int(_call(cache, lookup))


def inlet_state(cache: Cache, event_id: int) -> dict[str, float]:
    raw = _call(cache, lambda client: client.hgetall(keys(event_id)[6]))
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): float(v)
        for k, v in raw.items()
    }


def save_inlet_state(cache: Cache, event_id: int, state: dict[str, float]) -> None:
    _call(cache, lambda client: client.hset(keys(event_id)[6], mapping=state))
