"""Seats that come back to an event: holds that ended, settled; and, while
anyone waits in the event's line, offers in strict order.

Every function here runs with the event's admin-write lock and every shard
locked, in that order (db/events.py), so no booking, cancellation or admin
write moves a seat meanwhile; the caller commits. Used wherever seats come
back: a cancellation while someone waits, a booking that found the seats of
ended holds, a resize, someone leaving the line, and the expire-holds job.

- **Ended holds** (their `expires_at` passed) are marked `expired`, their
  seats go back to the shards and off their users' counts, and each gets its
  "your hold expired" e-mail. An offer that ended ends its entry (`expired`).
- **Offers**: while the line's first waiting entry asks for no more seats than
  are free (in the event and in every quota counting its ticket type), it gets a hold of that many seats in its name, ending
  WAITLIST_OFFER_SECONDS later (`offered`, with its "seats are held for you"
  e-mail), and the next entry is looked at. The first that does not fit stops
  the round: nobody behind it is served before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ticketmania.db import events as event_table
from ticketmania.db import holds, quotas, ticket_types, waitlist
from ticketmania.db.models import Event, WaitlistEntry
from ticketmania.observability import count


@dataclass(frozen=True)
class Released:
    # Seats of ended holds given back (and maybe offered on).
    seats_returned: int
    offers: int
    # Someone still waits: the free seats, if any, are not for outsiders.
    is_line_waiting: bool


def give_back_ended(
    session: Session, event_id: int, unsold: list[int], *, now: datetime
) -> list[int]:
    """Settle the event's ended holds; `unsold` with their seats back in."""
    ended = holds.settle_ended(session, event_id, now=now)
    if not ended:
        return unsold
    quotas.give_back(session, [hold.booking_id for hold in ended])
    waitlist.end_offers(session, [hold.booking_id for hold in ended], status="expired")
    unsold = list(unsold)
    for hold in ended:
        unsold[hold.booking_id % len(unsold)] += hold.seats
    count("HoldsExpired", len(ended))
    return unsold


def offer_in_order(
    session: Session,
    event: Event,
    unsold: list[int],
    *,
    now: datetime,
    offer_seconds: int,
) -> tuple[list[int], int]:
    """Offer free seats to the event's line, first come first served; `unsold`
    after the offers, and how many were made. An entry's seats must be free
    in the event and in every quota that counts its ticket type (the event's
    default type when it names none); its offer takes from all of them."""
    if event.cancelled_at is not None or event.event_date <= now:
        return unsold, 0
    waiting = waitlist.lock_waiting(session, event.id)
    if not waiting:
        return unsold, 0
    unsold = list(unsold)
    quota_seats = quotas.lock_event_quotas(session, event.id)
    default = ticket_types.default_of(session, event.id)
    offers = 0
    for entry in waiting:
        type_id = entry.ticket_type_id or (default.id if default else None)
        counted_by = quota_seats.quotas_of_type.get(type_id, []) if type_id else []
        if (
            type_id is None
            or entry.seats > sum(unsold)
            or any(quota_seats.free(q) < entry.seats for q in counted_by)
        ):
            break  # strict order: the ones behind it wait too
        event_table.take_fullest_first(unsold, entry.seats)
        for quota_id in counted_by:
            quota_seats.take(quota_id, entry.seats)
        _offer(
            session,
            entry,
            ticket_type_id=type_id,
            quota_ids=counted_by,
            now=now,
            offer_seconds=offer_seconds,
        )
        offers += 1
    if offers:
        quotas.set_event_quotas(session, quota_seats)
        count("WaitlistOffers", offers)
    return unsold, offers


def _offer(
    session: Session,
    entry: WaitlistEntry,
    *,
    ticket_type_id: int,
    quota_ids: list[int],
    now: datetime,
    offer_seconds: int,
) -> None:
    expires_at = now + timedelta(seconds=offer_seconds)
    booking_id = holds.hold_for_offer(
        session,
        user_id=entry.user_id,
        event_id=entry.event_id,
        seats=entry.seats,
        expires_at=expires_at,
        ticket_type_id=ticket_type_id,
        quota_ids=quota_ids,
    )
    waitlist.mark_offered(session, entry, booking_id=booking_id, expires_at=expires_at)


def settle(
    session: Session, event_id: int, *, now: datetime, offer_seconds: int
) -> Released:
    """Lock the event, settle its ended holds and make the offers the freed
    seats allow. The caller commits."""
    event_table.lock_for_admin_write(session, event_id)
    unsold = event_table.lock_seats(session, event_id)
    event = event_table.get_event(session, event_id)
    if event is None or not unsold:
        return Released(seats_returned=0, offers=0, is_line_waiting=False)
    before = sum(unsold)
    unsold = give_back_ended(session, event_id, unsold, now=now)
    returned = sum(unsold) - before
    unsold, offers = offer_in_order(
        session, event, unsold, now=now, offer_seconds=offer_seconds
    )
    event_table.set_seats(session, event_id, unsold)
    return Released(
        seats_returned=returned,
        offers=offers,
        is_line_waiting=waitlist.has_waiting(session, event_id),
    )


def leave_line(
    session: Session,
    event_id: int,
    user_id: int,
    *,
    now: datetime,
    offer_seconds: int,
) -> Released | None:
    """The user leaves the event's line; an open offer's hold is released and
    its seats offered on. None: the user is not in the line. The caller commits."""
    event_table.lock_for_admin_write(session, event_id)
    unsold = event_table.lock_seats(session, event_id)
    event = event_table.get_event(session, event_id)
    if event is None or not unsold:
        return None
    unsold = give_back_ended(session, event_id, unsold, now=now)
    entry = waitlist.lock_live_of_user(session, event_id=event_id, user_id=user_id)
    if entry is None:
        event_table.set_seats(session, event_id, unsold)
        return None
    returned = 0
    if entry.status == "offered" and entry.booking_id is not None:
        returned = holds.release(session, entry.booking_id, now=now)
        if returned:
            quotas.give_back(session, [entry.booking_id])
        unsold[entry.booking_id % len(unsold)] += returned
    waitlist.mark_left(session, entry)
    unsold, offers = offer_in_order(
        session, event, unsold, now=now, offer_seconds=offer_seconds
    )
    event_table.set_seats(session, event_id, unsold)
    return Released(
        seats_returned=returned,
        offers=offers,
        is_line_waiting=waitlist.has_waiting(session, event_id),
    )


def settle_if_due(
    session: Session, event_id: int, *, now: datetime, offer_seconds: int
) -> Released | None:
    """Settle the event when a hold of it has ended (so what is read next is
    what the job would leave); None when nothing was due. The caller commits."""
    if not holds.has_ended(session, event_id, now=now):
        return None
    return settle(session, event_id, now=now, offer_seconds=offer_seconds)
