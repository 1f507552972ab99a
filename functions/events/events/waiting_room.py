"""Waiting room rules: an admin sets an event's room; buyers join its queue
and, once the inlet reaches them, fetch their admission token."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from ticketmania.admission import refuse_revoked
from ticketmania.cache import Cache
from ticketmania.db import events as event_table
from ticketmania.db import waiting_rooms as room_table
from ticketmania.errors import NotFound, QueueNotOpen
from ticketmania.observability import count, logger
from ticketmania.security import TokenClaims
from ticketmania.waiting_room import queue, tokens

# A room's settings as the queue's routes read them, for a second: a surge of
# joins is one read of the room a second per container, not one per join.
# (The sale itself never reads this: the booking statement checks the event.)
ROOM_READ_SECONDS = 1.0
_read_rooms: dict[int, tuple[float, room_table.Room | None]] = {}

EntryStatus = Literal["prequeue", "waiting", "admitted", "expired"]
RoomStatus = Literal["off", "scheduled", "prequeue", "open"]


def put_room(
    session: Session, *, event_id: int, fields: dict[str, Any]
) -> room_table.Room:
    logger.append_keys(event_id=event_id)
    event_table.lock_for_admin_write(session, event_id)
    if event_table.lock_active_event(session, event_id) is None:
        raise NotFound("Event not found")
    room = room_table.put(session, room_table.Room(event_id=event_id, **fields))
    session.commit()
    _read_rooms.pop(event_id, None)
    return room


def _recent_room(session: Session, event_id: int) -> room_table.Room:
    now = time.monotonic()
    read = _read_rooms.get(event_id)
    if read is None or now - read[0] > ROOM_READ_SECONDS:
        room = room_table.get(session, event_id)
        if room is not None and event_table.get_event(session, event_id) is None:
            room = None  # the event was cancelled
        session.rollback()  # nothing is held while Redis answers
        read = (now, room)
        _read_rooms[event_id] = read
    if read[1] is None:
        raise NotFound("This event has no waiting room")
    return read[1]


def get_room(session: Session, *, event_id: int) -> room_table.Room:
    room = room_table.get(session, event_id)
    if room is None or event_table.get_event(session, event_id) is None:
        raise NotFound("This event has no waiting room")
    return room


@dataclass(frozen=True)
class Entry:
    status: EntryStatus
    position: int | None
    serving: int
    ahead: int
    estimated_wait_seconds: int | None
    admission_token: str | None = None
    admission_expires_at: datetime | None = None


def _entry(
    room: room_table.Room,
    snapshot: queue.Snapshot,
    *,
    user_id: int,
    now: datetime,
    with_token: bool,
) -> Entry:
    position = snapshot.position or 0
    if position == 0:  # in the pre-queue: no place yet
        return Entry("prequeue", None, snapshot.serving, 0, None)
    ahead = max(position - snapshot.serving - 1, 0)
    if snapshot.admitted_at is None:
        wait = int(ahead * 60 / room.admit_per_minute) + 1
        return Entry("waiting", position, snapshot.serving, ahead, wait)
    expires_at = snapshot.admitted_at + timedelta(seconds=room.admission_ttl_seconds)
    if now >= expires_at:
        return Entry("expired", position, snapshot.serving, 0, None)
    token = None
    if with_token:
        token = tokens.sign(
            event_id=room.event_id,
            user_id=user_id,
            position=position,
            issued_at=now,
            expires_at=expires_at,
        )
        count("AdmissionTokensIssued")
    return Entry("admitted", position, snapshot.serving, 0, 0, token, expires_at)


def _open_room(session: Session, event_id: int, now: datetime) -> room_table.Room:
    room = _recent_room(session, event_id)
    if not room.enabled:
        raise NotFound("This event's waiting room is off")
    if now < room.opens_at:
        raise QueueNotOpen(f"The waiting room opens at {room.opens_at.isoformat()}")
    return room


def join(
    session: Session, cache: Cache, *, event_id: int, claims: TokenClaims, now: datetime
) -> tuple[Entry, bool]:
    """The user's entry in the queue, made now (True) or found (False). The
    token's revocation is checked in Redis (Postgres when Redis cannot say):
    a join reads no user row."""
    logger.append_keys(event_id=event_id)
    refuse_revoked(session, cache, claims=claims)
    user_id = claims.user_id
    room = _open_room(session, event_id, now)
    joined, _ = queue.join(cache, event_id, user_id, on_sale_at=room.on_sale_at)
    snapshot = queue.read(cache, event_id, user_id)
    if joined == "now":
        count("QueueJoins")
    return _entry(room, snapshot, user_id=user_id, now=now, with_token=False), (
        joined == "now"
    )


def my_entry(
    session: Session, cache: Cache, *, event_id: int, claims: TokenClaims, now: datetime
) -> Entry:
    refuse_revoked(session, cache, claims=claims)
    user_id = claims.user_id
    room = _recent_room(session, event_id)
    snapshot = queue.read(cache, event_id, user_id)
    if snapshot.position is None:
        raise NotFound("You are not in this event's queue")
    return _entry(room, snapshot, user_id=user_id, now=now, with_token=True)


@dataclass(frozen=True)
class QueueState:
    serving: int
    waiting: int
    status: RoomStatus


def queue_state(
    session: Session, cache: Cache, *, event_id: int, now: datetime
) -> QueueState:
    room = _recent_room(session, event_id)
    if not room.enabled:
        return QueueState(0, 0, "off")
    if now < room.opens_at:
        return QueueState(0, 0, "scheduled")
    snapshot = queue.read(cache, event_id)
    status: RoomStatus = "prequeue" if now < room.on_sale_at else "open"
    return QueueState(snapshot.serving, snapshot.waiting, status)
