"""expire-holds: settle holds that have ended, and make the offers their seats
allow, for the reports and the e-mails ("your hold expired", "seats are held
for you").

Correctness never waits for it: a hold reads `expired` from its end on, and
its seats are free from then on for any booking that asks (the booking settles
them itself). What waits for it is the bookkeeping, the e-mails and, while
someone waits in an event's line, the offer of the seats a lapse gives back.
So a run may keep sweeping for `sweep_seconds`: it settles what is due, sleeps
until the next hold ends, and settles again, so an offer follows a lapse
within about a second; it stops early when no hold ends within its time. In
AWS each minute's run sweeps for 50 s; `ticketmania serve` runs it every
second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from ticketmania import seat_release, sold_out
from ticketmania.cache import Cache
from ticketmania.db import holds
from ticketmania.db.engine import SessionOpener
from ticketmania.observability import logger

# Never sleep less than this between sweeps (holds ending a few ms apart are
# settled together).
MIN_NAP_SECONDS = 0.05


def expire_holds(
    open_session: SessionOpener,
    cache: Cache,
    *,
    offer_seconds: int,
    sweep_seconds: float = 0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    before_settling: Callable[[datetime], int] = lambda now: 0,
) -> dict[str, int]:
    """`before_settling(now)` runs before each sweep lets ended holds go: it
    asks the payment provider about their open payments (a success whose
    webhook was lost pays the order instead)."""
    seats = offers = sweeps = paid = 0
    deadline = time.monotonic() + sweep_seconds
    while True:
        sweeps += 1
        now = clock()
        paid += before_settling(now)
        with open_session() as session:
            due = holds.events_to_settle(session, now=now)
        for event_id in due:
            with open_session() as session:
                released = seat_release.settle(
                    session, event_id, now=now, offer_seconds=offer_seconds
                )
                session.commit()
            seats += released.seats_returned
            offers += released.offers
            if released.seats_returned and not released.is_line_waiting:
                sold_out.seats_given_back(cache, event_id)
        # The next end after the instant just settled, not after the clock's
        # reading now: a hold that ended in between is next, and settled at once.
        with open_session() as session:
            next_end = holds.next_end(session, now=now)
        left = deadline - time.monotonic()
        if next_end is None or left <= 0:
            break
        wait = (next_end - clock()).total_seconds()
        if wait > left:
            break
        sleep(max(wait, MIN_NAP_SECONDS))
    if seats or offers:
        logger.info("holds settled", extra={"seats": seats, "offers": offers})
    return {
        "seats_returned": seats,
        "offers": offers,
        "sweeps": sweeps,
        "paid_before_expiry": paid,
    }
