"""The outbox table: messages about a change, written with it, relayed after commit.

Every message is written one way: an `INSERT INTO outbox (topic, payload)`
inside the very statement that makes the change it reports, with the topic
bound from the constants below. So a message exists exactly when its change
was committed, and nothing is sent from inside a transaction.
"""

from __future__ import annotations

BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
EVENT_CANCELLED = "event.cancelled"

TOPICS = (BOOKING_CONFIRMED, BOOKING_CANCELLED, EVENT_CANCELLED)
