"""Waitlist rules: join an event's line, see one's place, leave it, and (an
admin) read the whole line. The offers themselves are made wherever seats come
back (ticketmania/seat_release.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania import seat_release, sold_out
from ticketmania.cache import Cache
from ticketmania.db import bookings as booking_table
from ticketmania.db import events as event_table
from ticketmania.db import ticket_types as ticket_type_table
from ticketmania.db import waitlist as waitlist_table
from ticketmania.db.models import User, WaitlistEntry
from ticketmania.errors import (
    AlreadyWaiting,
    EventClosed,
    LimitExceeded,
    NotFound,
    NotOnSale,
    SeatsAvailable,
)
from ticketmania.observability import count, logger


@dataclass(frozen=True)
class PlacedEntry:
    entry: WaitlistEntry
    # 1 for the first in line; None once the entry has left the line.
    position: int | None


def join_line(
    session: Session,
    *,
    event_id: int,
    user: User,
    seats: int,
    max_seats_per_user: int,
    now: datetime,
    ticket_type_id: int | None = None,
) -> PlacedEntry:
    """Join the event's line for `seats` (of a ticket type, or of the event's
    default type), when they cannot be had now."""
    logger.append_keys(event_id=event_id)
    event = event_table.get_active_event(session, event_id)
    if event is None:
        raise NotFound("Event not found")
    if event.event_date <= now:
        raise EventClosed("The event has already started")
    kind = (
        ticket_type_table.default_of(session, event_id)
        if ticket_type_id is None
        else ticket_type_table.get(session, ticket_type_id)
    )
    if kind is None or kind.event_id != event_id:
        raise NotFound("Ticket type not found for this event")
    if not kind.is_on_sale(now):
        raise NotOnSale(
            f"'{kind.name}' is not on sale now", fields={"ticket_type_id": kind.id}
        )
    free = ticket_type_table.availability(session, event_id).get(kind.id, 0)
    if not waitlist_table.has_waiting(session, event_id) and free >= seats:
        raise SeatsAvailable(f"{free} seats can be had now")
    held = booking_table.user_seats(session, user_id=user.id, event_id=event_id)
    if held + seats > max_seats_per_user:
        left = max(max_seats_per_user - held, 0)
        raise LimitExceeded(
            f"At most {max_seats_per_user} seats per user on this event; you can ask for {left} more"
        )
    try:
        entry = waitlist_table.join(
            session,
            event_id=event_id,
            user_id=user.id,
            seats=seats,
            ticket_type_id=ticket_type_id,
        )
    except waitlist_table.AlreadyInLine:
        raise AlreadyWaiting() from None
    session.commit()
    count("WaitlistJoined")
    return PlacedEntry(entry=entry, position=waitlist_table.position_of(session, entry))


def my_place(
    session: Session, *, event_id: int, user: User, now: datetime, offer_seconds: int
) -> PlacedEntry:
    """The user's latest entry for the event, as it is now (an offer that ended
    is settled first, and passed on); 404 once the event is cancelled."""
    if event_table.get_active_event(session, event_id) is None:
        raise NotFound("Event not found")
    _settle_if_due(session, event_id, now=now, offer_seconds=offer_seconds)
    entry = waitlist_table.latest_of_user(session, event_id=event_id, user_id=user.id)
    # One who left deleted their place (DELETE .../waitlist/me): it is gone for
    # them, as any deleted resource is; the admin's line keeps it as history.
    if entry is None or entry.status == "left":
        raise NotFound("You are not on this event's waitlist")
    return PlacedEntry(entry=entry, position=waitlist_table.position_of(session, entry))


def leave_line(
    session: Session,
    cache: Cache,
    *,
    event_id: int,
    user: User,
    now: datetime,
    offer_seconds: int,
) -> None:
    """Leave the line; an open offer's hold is released and offered on."""
    logger.append_keys(event_id=event_id)
    released = seat_release.leave_line(
        session, event_id, user.id, now=now, offer_seconds=offer_seconds
    )
    session.commit()
    if released is None:
        raise NotFound("You are not on this event's waitlist")
    count("WaitlistLeft")
    if not released.is_line_waiting:
        sold_out.seats_given_back(cache, event_id)


def list_line(
    session: Session,
    *,
    event_id: int,
    limit: int,
    offset: int,
    now: datetime,
    offer_seconds: int,
) -> tuple[list[PlacedEntry], int]:
    """Every entry of the event, in line order (an admin's view). A cancelled
    event's line is gone with it (404), as the event is; only its bookings stay
    readable (GET /events/{id}/bookings)."""
    if event_table.get_active_event(session, event_id) is None:
        raise NotFound("Event not found")
    _settle_if_due(session, event_id, now=now, offer_seconds=offer_seconds)
    entries, total = waitlist_table.list_entries(
        session, event_id, limit=limit, offset=offset
    )
    places = waitlist_table.positions(session, entries)
    return [PlacedEntry(entry, places.get(entry.id)) for entry in entries], total


def _settle_if_due(
    session: Session, event_id: int, *, now: datetime, offer_seconds: int
) -> None:
    # What is read is what the expire-holds job would leave: an offer that
    # ended is over, and its seats are offered on, whether the job ran or not.
    if seat_release.settle_if_due(
        session, event_id, now=now, offer_seconds=offer_seconds
    ):
        session.commit()
    else:
        session.rollback()
