"""Ticket rules as plain functions: a confirmed booking's ticket, a check-in,
the door's counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania import tickets
from ticketmania.admission import refuse_revoked
from ticketmania.booking_access import visible_booking
from ticketmania.cache import Cache
from ticketmania.db import checkins as checkin_table
from ticketmania.db import events as event_table
from ticketmania.db import orders as order_table
from ticketmania.db import users as user_table
from ticketmania.db.models import User
from ticketmania.errors import (
    AlreadyCheckedIn,
    BookingCancelled,
    Forbidden,
    InvalidTicket,
    InvalidToken,
    NotConfirmed,
    NotFound,
    WrongEvent,
)
from ticketmania.observability import count, logger
from ticketmania.security import TokenClaims


@dataclass(frozen=True)
class Ticket:
    booking_id: int
    event_id: int
    seats: int
    holder: str
    code: str
    lines: tuple[tuple[int, int], ...]


def ticket_of(
    session: Session,
    ring: tickets.KeyRing,
    *,
    booking_id: int,
    user: User,
    now: datetime,
) -> Ticket:
    """The ticket of a confirmed booking (its owner's, or an admin's to see)."""
    logger.append_keys(booking_id=booking_id)
    booking = visible_booking(session, booking_id, user)
    if booking.status != "confirmed":
        raise NotConfirmed(
            f"A {_reads(booking.status, booking.expires_at, now)} booking has no ticket"
        )
    owner = user_table.get_user(session, booking.user_id)
    assert owner is not None  # a booking's user is never deleted
    lines = order_table.ticket_lines(
        session,
        booking_id=booking.id,
        event_id=booking.event_id,
        seats=booking.seats_booked,
    )
    code = tickets.sign(
        ring,
        tickets.TicketClaims(
            booking_id=booking.id,
            event_id=booking.event_id,
            seats=booking.seats_booked,
            issued_at=now,
            lines=lines,
        ),
    )
    return Ticket(
        booking.id, booking.event_id, booking.seats_booked, owner.name, code, lines
    )


def _reads(status: str, expires_at: datetime | None, now: datetime) -> str:
    if status == "held" and expires_at is not None and expires_at <= now:
        return "expired"
    return status


@dataclass(frozen=True)
class CheckedIn:
    booking_id: int
    event_id: int
    seats: int
    holder: str
    checked_in_at: datetime


def check_in(
    session: Session,
    cache: Cache,
    ring: tickets.KeyRing,
    *,
    code: str,
    event_id: int | None,
    caller: TokenClaims,
) -> CheckedIn:
    """Admit the ticket once: a revoked token refused first; the code verified
    with the public keys (a forged or malformed one never reaches the
    database); then one statement that checks the caller (staff or admin,
    token current) and admits it."""
    refuse_revoked(session, cache, claims=caller)
    ticket = tickets.verify(ring, code)
    logger.append_keys(booking_id=ticket.booking_id, event_id=ticket.event_id)
    if event_id is not None and event_id != ticket.event_id:
        raise WrongEvent(f"This ticket is for event {ticket.event_id}")
    admission = checkin_table.check_in(
        session,
        booking_id=ticket.booking_id,
        event_id=ticket.event_id,
        seats=ticket.seats,
        staff_id=caller.user_id,
        token_version=caller.token_version,
    )
    if not admission.is_token_current:
        raise InvalidToken()
    if not admission.may_check_in:
        raise Forbidden("Staff or admin role required")
    claims = ticket
    if not admission.is_booking_found or admission.event_id != claims.event_id:
        raise InvalidTicket()  # signed by us, for a booking this database never had
    if admission.is_event_cancelled:
        raise NotFound("Event not found")
    if admission.status == "cancelled":
        count("CheckInsRefused")
        raise BookingCancelled()
    if admission.status != "confirmed" or admission.seats != claims.seats:
        raise InvalidTicket()
    assert admission.holder is not None
    if admission.checked_in_at is None:
        first = checkin_table.first_check_in(session, claims.booking_id)
        count("CheckInsRepeated")
        raise AlreadyCheckedIn(fields={"checked_in_at": first})
    count("CheckIns")
    return CheckedIn(
        booking_id=claims.booking_id,
        event_id=claims.event_id,
        seats=claims.seats,
        holder=admission.holder,
        checked_in_at=admission.checked_in_at,
    )


def door_counts(session: Session, *, event_id: int) -> checkin_table.DoorCounts:
    if event_table.get_active_event(session, event_id) is None:
        raise NotFound("Event not found")
    return checkin_table.door_counts(session, event_id)
