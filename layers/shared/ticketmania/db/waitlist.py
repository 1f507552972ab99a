"""Data access for waitlist_entries: an event's line of buyers, in id order.

Live entries (waiting, offered) are the line; an entry ends accepted (its offer
confirmed), expired (its offer lapsed, or the event was cancelled) or left.
Rows are never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ticketmania.db import paging
from ticketmania.db.models import WaitlistEntry

LIVE = ("waiting", "offered")


@dataclass(frozen=True)
class Placed:
    """An entry and its place in the line (None once it has left the line)."""

    entry: WaitlistEntry
    position: int | None


class AlreadyInLine(Exception):
    """The user has a live entry for this event already."""


def join(
    session: Session,
    *,
    event_id: int,
    user_id: int,
    seats: int,
    ticket_type_id: int | None = None,
) -> WaitlistEntry:
    entry = WaitlistEntry(
        event_id=event_id, user_id=user_id, seats=seats, ticket_type_id=ticket_type_id
    )
    session.add(entry)
    try:
        session.flush()
    except IntegrityError as exc:  # uq_waitlist_entries_live
        raise AlreadyInLine() from exc
    session.refresh(entry)
    return entry


def has_waiting(session: Session, event_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                select(WaitlistEntry.id)
                .where(
                    WaitlistEntry.event_id == event_id,
                    WaitlistEntry.status == "waiting",
                )
                .exists()
            )
        )
    )


def position_of(session: Session, entry: WaitlistEntry) -> int | None:
    """1 for the first live entry; None for an entry that has left the line."""
    if entry.status not in LIVE:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.event_id == entry.event_id,
            WaitlistEntry.status.in_(LIVE),
            WaitlistEntry.id < entry.id,
        )
    )
    return int(ahead or 0) + 1


def latest_of_user(
    session: Session, *, event_id: int, user_id: int
) -> WaitlistEntry | None:
    """The user's latest entry for the event, whatever its status."""
    return session.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.user_id == user_id)
        .order_by(WaitlistEntry.id.desc())
        .limit(1)
    )


def lock_live_of_user(
    session: Session, *, event_id: int, user_id: int
) -> WaitlistEntry | None:
    return session.scalar(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.event_id == event_id,
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status.in_(LIVE),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_waiting(session: Session, event_id: int) -> list[WaitlistEntry]:
    """The event's waiting entries in line order, locked."""
    return list(
        session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.event_id == event_id,
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def mark_offered(
    session: Session, entry: WaitlistEntry, *, booking_id: int, expires_at: datetime
) -> None:
    entry.status = "offered"
    entry.booking_id = booking_id
    entry.offer_expires_at = expires_at
    entry.updated_at = func.now()
    session.flush()


def mark_left(session: Session, entry: WaitlistEntry) -> None:
    entry.status = "left"
    entry.updated_at = func.now()
    session.flush()


_END_OFFERS = text(
    """
    UPDATE waitlist_entries SET status = :status, updated_at = now()
    WHERE booking_id = ANY(CAST(:booking_ids AS bigint[])) AND status = 'offered'
    """
)


def end_offers(session: Session, booking_ids: list[int], *, status: str) -> None:
    """The entries whose offer holds these were: now `status` (expired, left)."""
    if booking_ids:
        session.execute(_END_OFFERS, {"booking_ids": booking_ids, "status": status})


_EXPIRE_EVENT_LINE = text(
    """
    UPDATE waitlist_entries SET status = 'expired', updated_at = now()
    WHERE event_id = :event_id AND status IN ('waiting', 'offered')
    """
)


def expire_line(session: Session, event_id: int) -> None:
    """The event is cancelled: its line ends."""
    session.execute(_EXPIRE_EVENT_LINE, {"event_id": event_id})


def list_entries(
    session: Session, event_id: int, *, limit: int, offset: int
) -> tuple[list[WaitlistEntry], int]:
    """Every entry of the event, in line order."""
    return paging.fetch_page(
        session,
        WaitlistEntry,
        [WaitlistEntry.event_id == event_id],
        order_by=[WaitlistEntry.id.asc()],
        limit=limit,
        offset=offset,
    )


def positions(session: Session, entries: list[WaitlistEntry]) -> dict[int, int]:
    """Each live entry's place in its line, for a page of one event's entries."""
    live = [entry for entry in entries if entry.status in LIVE]
    if not live:
        return {}
    first = live[0]
    ahead = int(
        session.scalar(
            select(func.count())
            .select_from(WaitlistEntry)
            .where(
                WaitlistEntry.event_id == first.event_id,
                WaitlistEntry.status.in_(LIVE),
                WaitlistEntry.id < first.id,
            )
        )
        or 0
    )
    return {entry.id: ahead + place for place, entry in enumerate(live, start=1)}
