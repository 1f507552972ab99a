"""Data access for waiting rooms and the admissions used (migration 0011).

A room's settings live here; its queue lives in Redis
(ticketmania/waiting_room/queue.py). `events.admission_required` mirrors
`enabled`, written in the same transaction, because the booking and order
statements read the event's row anyway: that is where they refuse a request
without an admission, with no read of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Room:
    event_id: int
    enabled: bool
    opens_at: datetime
    on_sale_at: datetime
    admit_per_minute: int
    max_active_holds: int | None
    admission_ttl_seconds: int

    def is_on_sale(self, now: datetime) -> bool:
        return self.enabled and now >= self.on_sale_at


_COLUMNS = (
    "event_id, enabled, opens_at, on_sale_at, admit_per_minute, max_active_holds, "
    "admission_ttl_seconds"
)


def _room(row: Any) -> Room | None:
    return Room(*row) if row is not None else None


def get(session: Session, event_id: int) -> Room | None:
    return _room(
        session.execute(
            text(f"SELECT {_COLUMNS} FROM waiting_rooms WHERE event_id = :id"),
            {"id": event_id},
        ).one_or_none()
    )


_PUT = text(
    f"""
    WITH room AS (
      INSERT INTO waiting_rooms ({_COLUMNS})
      VALUES (:event_id, :enabled, :opens_at, :on_sale_at, :admit_per_minute,
              :max_active_holds, :admission_ttl_seconds)
      ON CONFLICT (event_id) DO UPDATE SET
        enabled = EXCLUDED.enabled, opens_at = EXCLUDED.opens_at,
        on_sale_at = EXCLUDED.on_sale_at, admit_per_minute = EXCLUDED.admit_per_minute,
        max_active_holds = EXCLUDED.max_active_holds,
        admission_ttl_seconds = EXCLUDED.admission_ttl_seconds, updated_at = now()
      RETURNING {_COLUMNS}
    ), required AS (
      UPDATE events SET admission_required = :enabled WHERE id = :event_id
    )
    SELECT {_COLUMNS} FROM room
    """
)


def put(session: Session, room: Room) -> Room:
    """Write the room and the event's `admission_required`; the caller commits."""
    written = _room(session.execute(_PUT, room.__dict__).one())
    assert written is not None
    return written


def enabled_rooms(session: Session, *, now: datetime) -> list[Room]:
    """The rooms whose sale is open (the inlet's work), of events not cancelled
    nor started."""
    rows = session.execute(
        text(
            f"SELECT {', '.join('r.' + c.strip() for c in _COLUMNS.split(','))} "
            "FROM waiting_rooms AS r JOIN events AS e ON e.id = r.event_id "
            "WHERE r.enabled AND r.on_sale_at <= :now AND e.cancelled_at IS NULL "
            "AND e.event_date > :now ORDER BY r.event_id"
        ),
        {"now": now},
    ).all()
    return [Room(*row) for row in rows]


def next_on_sale(session: Session, *, now: datetime) -> datetime | None:
    """The soonest on-sale still to come of an enabled room."""
    found = session.scalar(
        text(
            "SELECT min(r.on_sale_at) FROM waiting_rooms AS r "
            "JOIN events AS e ON e.id = r.event_id "
            "WHERE r.enabled AND r.on_sale_at > :now AND e.cancelled_at IS NULL"
        ),
        {"now": now},
    )
    return found if isinstance(found, datetime) else None


_LOAD = text(
    """
    SELECT
      (SELECT count(*) FROM bookings
       WHERE event_id = :event_id AND status = 'held' AND expires_at > :now),
      (SELECT count(*) FROM admission_uses
       WHERE event_id = :event_id AND position <= :lapsed_up_to),
      (SELECT count(*) FROM admission_uses
       WHERE event_id = :event_id AND position > :lapsed_up_to AND position <= :serving)
    """
)


@dataclass(frozen=True)
class Load:
    # The event's live holds (an order waiting for its payment included).
    live_holds: int
    # Admissions used among the positions whose admission has lapsed by now,
    # and among those still live.
    used_lapsed: int
    used_live: int


def load(
    session: Session, event_id: int, *, lapsed_up_to: int, serving: int, now: datetime
) -> Load:
    row = session.execute(
        _LOAD,
        {
            "event_id": event_id,
            "lapsed_up_to": lapsed_up_to,
            "serving": serving,
            "now": now,
        },
    ).one()
    return Load(int(row[0]), int(row[1]), int(row[2]))
