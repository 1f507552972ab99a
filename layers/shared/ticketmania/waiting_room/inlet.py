"""The inlet: the scheduled step that lets the next buyers in.

Each run, for every room whose sale is open: place the pre-queue if nobody
has yet, then advance `serving` by

    min(credit, max_active_holds - live holds - live admissions not used yet)

where `credit` grows by `admit_per_minute` per minute since the last run
(at most one minute's worth is saved up, so a quiet spell does not become a
burst), and grows by one for each admission that lapsed unused since the
last run: its place goes to the next. Admissions not used yet count against
`max_active_holds` beside the live holds: each may become a hold any moment,
and counting only the holds would let every run admit the whole allowance
again while the admitted are still choosing. It runs each minute in AWS and
each second under `ticketmania serve`; the rate is the same either way.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
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
    credit = state.get("credit", 0.0) + room.admit_per_minute * max(since, 0.0) / 60
    credit = min(credit, float(room.admit_per_minute))
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


def run_inlet(
    open_session: SessionOpener, cache: Cache, *, now: datetime
) -> dict[str, Any]:
    with open_session() as session:
        rooms = room_table.enabled_rooms(session, now=now)
    admitted = {
        room.event_id: step_room(open_session, cache, room, now=now) for room in rooms
    }
    return {"rooms": len(rooms), "admitted": sum(admitted.values())}
