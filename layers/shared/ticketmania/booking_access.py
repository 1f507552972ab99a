"""Who may see a booking: its owner, or an admin. Anyone else is told it does
not exist (404, not 403): booking ids cannot be probed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ticketmania.db import bookings as booking_table
from ticketmania.db.models import Booking, User
from ticketmania.errors import NotFound


def visible_booking(session: Session, booking_id: int, user: User) -> Booking:
    booking = booking_table.get_booking(session, booking_id)
    if booking is None or (booking.user_id != user.id and user.role != "admin"):
        raise NotFound("Booking not found")
    return booking
