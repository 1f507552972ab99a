"""Data access for notifications: who an outbox message tells, and the
sent_notifications table that makes each e-mail go out once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Recipient:
    """One user an outbox message tells, with what the e-mail says."""

    user_id: int
    email: str
    name: str
    event_title: str
    event_date: datetime
    event_location: str
    booking_ids: list[int]
    seats: int
    # When the bookings' holds end (a waitlist offer's e-mail says it).
    hold_ends_at: datetime | None = None


_RECIPIENTS = text(
    """
    SELECT u.id, u.email, u.name, e.title, e.event_date, e.location,
           array_agg(b.id ORDER BY b.id), sum(b.seats_booked), min(b.expires_at)
    FROM bookings AS b
    JOIN users AS u ON u.id = b.user_id
    JOIN events AS e ON e.id = b.event_id
    WHERE b.id = ANY(:booking_ids)
    GROUP BY u.id, u.email, u.name, e.title, e.event_date, e.location
    ORDER BY u.id
    """
)


def recipients_of(session: Session, booking_ids: list[int]) -> list[Recipient]:
    """The holders of these bookings, one per user, with their seats summed."""
    rows = session.execute(_RECIPIENTS, {"booking_ids": booking_ids}).all()
    return [
        Recipient(
            user_id=row[0],
            email=row[1],
            name=row[2],
            event_title=row[3],
            event_date=row[4],
            event_location=row[5],
            booking_ids=list(row[6]),
            seats=int(row[7]),
            hold_ends_at=row[8],
        )
        for row in rows
    ]


_CLAIM = text(
    """
    INSERT INTO sent_notifications (outbox_id, user_id) VALUES (:outbox_id, :user_id)
    ON CONFLICT (outbox_id, user_id) DO NOTHING
    RETURNING 1
    """
)


def claim(session: Session, *, outbox_id: int, user_id: int) -> bool:
    """Record the e-mail as sent, in this transaction; False if it already was.

    A concurrent delivery of the same message waits here until this transaction
    ends: commit it after the send, roll it back if the send failed."""
    return bool(
        session.scalar(_CLAIM, {"outbox_id": outbox_id, "user_id": user_id}) == 1
    )
