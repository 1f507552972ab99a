"""Hold rules: confirm a hold, extend it. Each change is one statement that
locks no shard (the hold's seats were taken when it was made); when it
changes nothing, the booking as it is now says why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bookings.logic import is_ended
from ticketmania.booking_access import visible_booking
from ticketmania.db import events as event_table
from ticketmania.db import holds as hold_table
from ticketmania.db.models import Booking, User
from ticketmania.errors import (
    AlreadyCancelled,
    Conflict,
    EventClosed,
    HoldExpired,
    HoldExtensionLimit,
    NotFound,
    NotHeld,
    PaymentRequired,
)
from ticketmania.observability import count, logger


def confirm_hold(
    session: Session, *, booking_id: int, user: User, now: datetime
) -> Booking:
    """Held → confirmed (its e-mail sent now), before it ends; a confirmed
    booking is answered as it is."""
    logger.append_keys(booking_id=booking_id)
    booking = visible_booking(session, booking_id, user)
    event_id = booking.event_id
    if booking.status == "confirmed":
        return booking
    session.rollback()  # the confirmation runs alone, on a connection of its own
    is_confirmed = hold_table.confirm(session, booking_id, now=now)
    session.refresh(booking)
    if is_confirmed:
        count("HoldsConfirmed")
        return booking
    if booking.status == "confirmed":  # confirmed by a concurrent request
        return booking
    if (
        booking.total_minor > 0
        and booking.status == "held"
        and not is_ended(booking, now)
    ):
        raise PaymentRequired()
    event = event_table.get_event(session, event_id)
    if event is None or event.cancelled_at is not None or event.event_date <= now:
        raise EventClosed("The event is cancelled or has already started")
    if booking.status == "cancelled":
        raise AlreadyCancelled()
    if booking.status == "expired" or is_ended(booking, now):
        raise HoldExpired()
    raise Conflict("The booking cannot be confirmed")


def extend_hold(
    session: Session,
    *,
    booking_id: int,
    user: User,
    now: datetime,
    extension_seconds: int,
    longest_seconds: int,
) -> Booking:
    """Move the hold's end to now + the extension, never past its creation +
    the longest a hold may last (offers are not extended: the line waits)."""
    logger.append_keys(booking_id=booking_id)
    booking = visible_booking(session, booking_id, user)
    if booking.user_id != user.id:  # its owner's alone, not an admin's
        raise NotFound("Booking not found")
    new_end = hold_table.extend(
        session,
        booking_id,
        now=now,
        extension_seconds=extension_seconds,
        longest_seconds=longest_seconds,
    )
    session.commit()
    session.refresh(booking)
    if new_end is not None:
        count("HoldsExtended")
        return booking
    if booking.status == "cancelled":
        raise AlreadyCancelled()
    if booking.status == "confirmed":
        raise NotHeld("A confirmed booking has no end to move")
    event = event_table.get_event(session, booking.event_id)
    if event is None or event.cancelled_at is not None or event.event_date <= now:
        raise EventClosed("The event is cancelled or has already started")
    if booking.status == "expired" or is_ended(booking, now):
        raise HoldExpired()
    raise HoldExtensionLimit(
        "The hold is at its longest (or is a waitlist offer, which is not extended)"
    )
