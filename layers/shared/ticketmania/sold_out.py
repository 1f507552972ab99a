"""Sold-out events refuse bookings from Redis: no row read, no lock taken.

When a booking finds an open event with no seats left at all, it marks the
event sold out in Redis, and later bookings of it are refused from the marker
alone. Whatever gives seats back (a cancelled booking, a larger total, the
event's cancellation) takes the marker down once it has committed.

Postgres stays the truth, and the marker is never trusted for long:
- A give-back that commits between a refusal's database read and its marking
  would be hidden by a fresh marker. So each give-back first bumps the event's
  generation, and a marker is only set while the generation is still the one
  read before the database was asked.
- A give-back whose take-down never reaches Redis leaves the marker up for at
  most MARKER_SECONDS.
- A hold's seats are free from the moment it ends, which no write announces:
  a marker never outlives the event's next hold to end.
- With Redis down, nothing is marked or read: every booking asks Postgres,
  which only costs speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from ticketmania.cache import Cache, call_around_breaker
from ticketmania.redis_keys import redis_key

MARKER_SECONDS = 5
# A generation only has to outlive the moment between a refusal's read and its
# marking; a minute is plenty.
GENERATION_SECONDS = 60

_MARK = """
if redis.call('GET', KEYS[2]) == (ARGV[1] ~= '' and ARGV[1] or false) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
end
"""
_TAKE_DOWN = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
"""


@dataclass(frozen=True)
class Marker:
    is_sold_out: bool
    # The event's generation when read ("" for none): a later marking must match it.
    generation: str


# What is read when Redis cannot answer: no marker, no generation.
NO_MARKER = Marker(is_sold_out=False, generation="")


def marker_keys(event_id: int) -> tuple[str, str]:
    """The event's marker and its generation."""
    return (
        redis_key(f"seats:sold-out:{event_id}"),
        redis_key(f"seats:generation:{event_id}"),
    )


def read_marker(cache: Cache, event_id: int) -> Marker:
    """Is the event marked sold out, and its generation, in one round trip."""

    def read(client: redis.Redis) -> Marker:
        marker, generation = client.mget(marker_keys(event_id))
        return Marker(
            is_sold_out=marker is not None,
            generation=generation.decode() if isinstance(generation, bytes) else "",
        )

    return cache.call(read, NO_MARKER)


def mark_sold_out(
    cache: Cache, event_id: int, *, generation: str, seconds: float = MARKER_SECONDS
) -> None:
    """Mark the event sold out for `seconds` (at most MARKER_SECONDS: less when
    a hold ends sooner, as its seats are free from that moment), unless seats
    were given back since `generation`."""
    milliseconds = int(min(seconds, MARKER_SECONDS) * 1000)
    if milliseconds <= 0:
        return
    cache.call(
        lambda client: client.eval(
            _MARK, 2, *marker_keys(event_id), generation, milliseconds
        ),
        None,
    )


def seats_given_back(cache: Cache, event_id: int) -> None:
    """After a commit that gave seats back: retire any marker, now and for any
    refusal still in flight. Goes around the breaker and retries, as a marker
    left standing refuses buyers for real seats until it expires."""
    call_around_breaker(
        cache,
        lambda client: client.eval(
            _TAKE_DOWN, 2, *marker_keys(event_id), GENERATION_SECONDS
        ),
        failure_message="sold-out marker not taken down: it expires on its own",
        failure_metric="SoldOutMarkerFailures",
    )
