"""The inlet: the scheduled step that lets the next buyers in.

Each run, for every room whose sale is open: place the pre-queue if nobody
has yet, then advance `serving` by

    min(credit, max_active_holds - live holds - live admissions not used yet)

where `credit` grows by `admit_per_minute` per minute since the last run
(what a run could not give, for want of buyers or of room, is not saved up
beyond the fraction of a place: a quiet spell must not become a burst), and
grows by one for each admission that lapsed unused since the last run: its
place goes to the next. Admissions not used yet count against
`max_active_holds` beside the live holds: each may become a hold any moment,
and counting only the holds would let every run admit the whole allowance
again while the admitted are still choosing.

A run steps every room once, then (`sweep_seconds`) again each second until
the time is up, or at once when no room's sale is open nor opens before then
(a minute with no on-sale costs one short run): in AWS the schedule starts a run each minute that sweeps for
55 s, so places are given a second's worth at a time, not a minute's in one
burst (a burst of a minute's buyers would arrive at the database together
and buy in any order); under `ticketmania serve` a run each second, on a
thread of its own. The rate is the same either way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketmania.cache import Cache
from ticketmania.db import waiting_rooms as room_table
from ticketmania.db.engine import SessionOpener
from ticketmania.observability import count
from ticketmania.waiting_room import queue


def step_room(
    open_session: SessionOpener, cache: Cache, room: room_table.Room, *, now: datetime
) -> int:
    """One inlet step of one room; how many it let in."""
    if not queue.place_prequeue(cache, room.event_id, on_sale_at=room.on_sale_at):
        return 0
    state = queue.inlet_state(cache, room.event_id)
    snapshot = queue.read(cache, room.event_id)
    last_run = state.get("last_run_ms")
    since = (
        (now.timestamp() * 1000 - last_run) / 1000
        if last_run is not None
        else max((now - room.on_sale_at).total_seconds(), 1.0)
    )
    allowance = room.admit_per_minute * min(max(since, 0.0), 60.0) / 60
    credit = min(state.get("credit", 0.0) + allowance, allowance + 1.0)
    lapsed_up_to = queue.serving_at(
        cache, room.event_id, now - timedelta(seconds=room.admission_ttl_seconds)
    )
    with open_session() as session:
        load = room_table.load(
            session,
            room.event_id,
            lapsed_up_to=lapsed_up_to,
            serving=snapshot.serving,
            now=now,
        )
    lapsed = lapsed_up_to - load.used_lapsed
    credit += max(lapsed - state.get("lapsed_counted", 0.0), 0.0)
    room_left = math.inf
    if room.max_active_holds is not None:
        live_admissions = snapshot.serving - lapsed_up_to - load.used_live
        room_left = room.max_active_holds - load.live_holds - live_admissions
    step = int(max(min(math.floor(credit), room_left), 0))
    before = snapshot.serving
    after = queue.advance(cache, room.event_id, step, now=now) if step else before
    admitted = after - before
    queue.save_inlet_state(
        cache,
        room.event_id,
        {
            "credit": credit - admitted,
            "last_run_ms": now.timestamp() * 1000,
            "lapsed_counted": float(lapsed),
        },
    )
    if admitted:
        count("QueueAdmitted", admitted)
    return admitted


STEP_SECONDS = 1.0


def run_inlet(
    open_session: SessionOpener,
    cache: Cache,
    *,
    now: datetime | None = None,
    sweep_seconds: float = 0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Step every open room (as of `now`, or the clock), then again each
    second for `sweep_seconds`."""
    deadline = time.monotonic() + sweep_seconds
    steps = admitted = rooms = 0
    while True:
        moment = now if now is not None and steps == 0 else clock()
        with open_session() as session:
            open_rooms = room_table.enabled_rooms(session, now=moment)
            coming = room_table.next_on_sale(session, now=moment)
        for room in open_rooms:
            admitted += step_room(open_session, cache, room, now=moment)
        rooms = max(rooms, len(open_rooms))
        steps += 1
        left = deadline - time.monotonic()
        opens_soon = coming is not None and (coming - moment).total_seconds() < left
        if left < STEP_SECONDS or not (open_rooms or opens_soon):
            break
        sleep(STEP_SECONDS)
    return {"rooms": rooms, "admitted": admitted, "steps": steps}
