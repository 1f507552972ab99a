"""Data access for the bookings table. Rows are never deleted: only their status changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from ticketmania.db.models import Booking


def cancel_all_for_event(session: Session, event_id: int, *, now: datetime) -> int:
    """Mark every confirmed booking of the event cancelled; returns how many."""
    result = session.execute(
        update(Booking)
        .where(Booking.event_id == event_id, Booking.status == "confirmed")
        .values(status="cancelled", cancelled_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
