"""The outbox table: messages about a change, written with it, relayed after commit.

Every message is written one way: an `INSERT INTO outbox (topic, payload)`
inside the very statement that makes the change it reports, with the topic
bound from the constants below. So a message exists exactly when its change
was committed, and nothing is sent from inside a transaction. Rows are never
deleted; `published_at` says when a relay handed one on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
EVENT_CANCELLED = "event.cancelled"
# A hold that ended unconfirmed (an offer among them): "your hold expired".
HOLD_EXPIRED = "hold.expired"
# Seats held for the first in an event's line: "seats are held for you".
WAITLIST_OFFERED = "waitlist.offered"

TOPICS = (
    BOOKING_CONFIRMED,
    BOOKING_CANCELLED,
    EVENT_CANCELLED,
    HOLD_EXPIRED,
    WAITLIST_OFFERED,
)


@dataclass(frozen=True)
class Message:
    id: int
    topic: str
    payload: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"outbox_id": self.id, "topic": self.topic, "payload": self.payload}


_TAKE_UNPUBLISHED = text(
    """
    SELECT id, topic, payload FROM outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT :limit
    FOR NO KEY UPDATE SKIP LOCKED
    """
)


def take_unpublished(session: Session, *, limit: int) -> list[Message]:
    """The oldest unpublished messages, locked for this transaction; rows another
    relay holds are skipped, so relays running at once never take the same one.
    (NO KEY UPDATE: the notifier's record of a sent e-mail references the row,
    and its foreign-key check must not wait for the relay that holds it.)"""
    rows = session.execute(_TAKE_UNPUBLISHED, {"limit": limit}).all()
    return [Message(id=row[0], topic=row[1], payload=row[2]) for row in rows]


def mark_published(session: Session, ids: list[int], *, now: datetime) -> None:
    session.execute(
        text("UPDATE outbox SET published_at = :now WHERE id = ANY(:ids)"),
        {"now": now, "ids": ids},
    )


def count_unpublished(session: Session) -> int:
    return int(
        session.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        or 0
    )
