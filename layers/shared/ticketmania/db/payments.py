"""Data access for payments, refunds and the provider events that took effect.

An order has at most one payment (uq_payments_booking). A refund is written
`pending` in the transaction that decides it (the order's cancellation, an
admin's refund, a payment that found its order gone) and done by the
provider after the commit (`jobs/refunds.py` retries what is still
pending): an outbox of its own, so no refund is decided and lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ticketmania.db import outbox


@dataclass(frozen=True)
class Payment:
    id: int
    booking_id: int
    provider: str
    provider_payment_id: str
    status: str
    amount_minor: int
    currency: str
    captured_minor: int


_COLUMNS = (
    "id, booking_id, provider, provider_payment_id, status, amount_minor, "
    "currency, captured_minor"
)


def _payment(row: Any) -> Payment | None:
    if row is None:
        return None
    return Payment(*row)


def of_booking(
    session: Session, booking_id: int, *, lock: bool = False
) -> Payment | None:
    suffix = " FOR UPDATE" if lock else ""
    return _payment(
        session.execute(
            text(f"SELECT {_COLUMNS} FROM payments WHERE booking_id = :id{suffix}"),
            {"id": booking_id},
        ).one_or_none()
    )


def by_provider_id(
    session: Session, provider: str, provider_payment_id: str, *, lock: bool = False
) -> Payment | None:
    suffix = " FOR UPDATE" if lock else ""
    return _payment(
        session.execute(
            text(
                f"SELECT {_COLUMNS} FROM payments "
                f"WHERE provider = :provider AND provider_payment_id = :pid{suffix}"
            ),
            {"provider": provider, "pid": provider_payment_id},
        ).one_or_none()
    )


def insert(
    session: Session,
    *,
    booking_id: int,
    provider: str,
    provider_payment_id: str,
    amount_minor: int,
    currency: str,
) -> Payment:
    row = session.execute(
        text(
            "INSERT INTO payments (booking_id, provider, provider_payment_id, "
            "amount_minor, currency) VALUES (:booking_id, :provider, :pid, :amount, "
            f":currency) RETURNING {_COLUMNS}"
        ),
        {
            "booking_id": booking_id,
            "provider": provider,
            "pid": provider_payment_id,
            "amount": amount_minor,
            "currency": currency,
        },
    ).one()
    payment = _payment(row)
    assert payment is not None
    return payment


def event_of_booking(session: Session, booking_id: int) -> int | None:
    found = session.scalar(
        text("SELECT event_id FROM bookings WHERE id = :id"), {"id": booking_id}
    )
    return int(found) if found is not None else None


def status_of_booking(session: Session, booking_id: int) -> str | None:
    found = session.scalar(
        text("SELECT status FROM bookings WHERE id = :id"), {"id": booking_id}
    )
    return str(found) if found is not None else None


_LOCK_BOOKING = text(
    "SELECT status, expires_at, total_minor, refunded_minor, user_id FROM bookings "
    "WHERE id = :id FOR UPDATE"
)


def lock_booking(session: Session, booking_id: int) -> Any:
    """The order's row, locked: one payment decision at a time per order."""
    return session.execute(_LOCK_BOOKING, {"id": booking_id}).one_or_none()


_RECORD_EVENT = text(
    """
    INSERT INTO provider_events (provider, event_id, event_type)
    VALUES (:provider, :event_id, :event_type)
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)


def record_event(
    session: Session, *, provider: str, event_id: str, event_type: str
) -> bool:
    """Write the event down; False when it took effect already (a replay, or
    a delivery that committed while this one waited on its key)."""
    return (
        session.execute(
            _RECORD_EVENT,
            {"provider": provider, "event_id": event_id, "event_type": event_type},
        ).one_or_none()
        is not None
    )


# A held order paid: confirmed (its e-mail and ticket through the outbox), an
# offer's entry accepted, the payment captured. Whether or not the hold ended:
# until it is settled its seats are still the order's. Not for an order
# cancelled or settled as expired, nor an event cancelled or started.
_PAY = text(
    """
    WITH paid AS (
      UPDATE bookings AS b SET status = 'confirmed', expires_at = NULL
      FROM events AS e
      WHERE b.id = :booking_id AND b.status = 'held'
        AND e.id = b.event_id AND e.cancelled_at IS NULL AND e.event_date > :now
      RETURNING b.id, b.user_id, b.event_id, b.seats_booked
    ), accepted AS (
      UPDATE waitlist_entries SET status = 'accepted', updated_at = now()
      WHERE booking_id = :booking_id AND status = 'offered'
        AND EXISTS (SELECT 1 FROM paid)
    ), captured AS (
      UPDATE payments SET status = 'succeeded', captured_minor = :amount, updated_at = now()
      WHERE id = :payment_id
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id',
        user_id, 'event_id', event_id, 'seats_booked', seats_booked)
      FROM paid
    )
    SELECT count(*) FROM paid
    """
)


def pay(
    session: Session, payment: Payment, *, amount_minor: int, now: datetime
) -> bool:
    """Capture the payment and pay its order, if the order can still be had;
    True when it was paid. The caller commits."""
    paid = session.scalar(
        _PAY,
        {
            "booking_id": payment.booking_id,
            "payment_id": payment.id,
            "amount": amount_minor,
            "now": now,
            "topic": outbox.BOOKING_CONFIRMED,
        },
    )
    return bool(paid)


_ADD_REFUND = text(
    """
    WITH refund AS (
      INSERT INTO refunds (payment_id, amount_minor, reason, requested_by,
                           idempotency_key, request_hash)
      VALUES (:payment_id, :amount, :reason, :requested_by, :key, :request_hash)
      RETURNING id
    ), counted AS (
      UPDATE bookings SET refunded_minor = refunded_minor + :amount WHERE id = :booking_id
    )
    SELECT id FROM refund
    """
)


def add_refund(
    session: Session,
    payment: Payment,
    *,
    amount_minor: int,
    reason: str,
    requested_by: int | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> int:
    """A pending refund of the payment, counted on its order now. Run with the
    payment locked, after checking it does not exceed what is left. The caller
    commits, then asks the provider (`refund_pending`)."""
    refund_id = session.scalar(
        _ADD_REFUND,
        {
            "payment_id": payment.id,
            "booking_id": payment.booking_id,
            "amount": amount_minor,
            "reason": reason,
            "requested_by": requested_by,
            "key": idempotency_key,
            "request_hash": request_hash,
        },
    )
    return int(refund_id)


_REFUNDED = text(
    "SELECT coalesce(sum(amount_minor), 0) FROM refunds WHERE payment_id = :id"
)


def refunded(session: Session, payment_id: int) -> int:
    """Every refund of the payment, pending or done."""
    return int(session.scalar(_REFUNDED, {"id": payment_id}) or 0)


@dataclass(frozen=True)
class Refund:
    id: int
    payment_id: int
    amount_minor: int
    status: str
    reason: str
    provider_payment_id: str
    provider: str
    request_hash: str | None


_REFUND_COLUMNS = (
    "r.id, r.payment_id, r.amount_minor, r.status, r.reason, p.provider_payment_id, "
    "p.provider, r.request_hash"
)


def prior_refund(session: Session, *, requested_by: int, key: str) -> Refund | None:
    row = session.execute(
        text(
            f"SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id "
            "WHERE r.requested_by = :user AND r.idempotency_key = :key"
        ),
        {"user": requested_by, "key": key},
    ).one_or_none()
    return Refund(*row) if row is not None else None


def get_refund(session: Session, refund_id: int) -> Refund:
    row = session.execute(
        text(
            f"SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id "
            "WHERE r.id = :id"
        ),
        {"id": refund_id},
    ).one()
    return Refund(*row)


def lock_pending_refunds(session: Session, *, limit: int) -> list[Refund]:
    """Refunds decided and not yet done, oldest first, locked (skipping ones
    another run holds)."""
    rows = session.execute(
        text(
            f"SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id "
            "WHERE r.status = 'pending' ORDER BY r.id LIMIT :limit FOR UPDATE OF r SKIP LOCKED"
        ),
        {"limit": limit},
    ).all()
    return [Refund(*row) for row in rows]


def mark_refunded(session: Session, refund_id: int, provider_refund_id: str) -> None:
    session.execute(
        text(
            "UPDATE refunds SET status = 'succeeded', provider_refund_id = :pid, "
            "done_at = now() WHERE id = :id"
        ),
        {"id": refund_id, "pid": provider_refund_id},
    )


_OPEN_ENDED = text(
    """
    SELECT p.id, p.booking_id, p.provider, p.provider_payment_id, p.status,
           p.amount_minor, p.currency, p.captured_minor
    FROM payments AS p JOIN bookings AS b ON b.id = p.booking_id
    WHERE p.status = 'open' AND b.status = 'held' AND b.expires_at <= :now
    ORDER BY p.id
    """
)


def open_on_ended_holds(session: Session, *, now: datetime) -> list[Payment]:
    """Payments not yet seen to succeed whose order's hold has ended: to ask
    the provider about before the hold is let go."""
    return [Payment(*row) for row in session.execute(_OPEN_ENDED, {"now": now})]


_OWED = text(
    """
    SELECT p.id, p.booking_id, p.provider, p.provider_payment_id, p.status,
           p.amount_minor, p.currency, p.captured_minor
    FROM payments AS p JOIN bookings AS b ON b.id = p.booking_id
    WHERE p.status = 'succeeded' AND b.status IN ('cancelled', 'expired')
      AND p.captured_minor > (SELECT coalesce(sum(r.amount_minor), 0) FROM refunds AS r
                              WHERE r.payment_id = p.id)
    ORDER BY p.id
    """
)


def owed(session: Session) -> list[Payment]:
    """Captured payments of orders cancelled since, not refunded in full yet."""
    return [Payment(*row) for row in session.execute(_OWED)]


_HAS_REFUND_WORK = text(
    """
    SELECT EXISTS (SELECT 1 FROM refunds WHERE status = 'pending')
        OR EXISTS (SELECT 1 FROM payments AS p JOIN bookings AS b ON b.id = p.booking_id
                   WHERE p.status = 'succeeded' AND b.status IN ('cancelled', 'expired')
                     AND p.captured_minor > (SELECT coalesce(sum(r.amount_minor), 0)
                                             FROM refunds AS r WHERE r.payment_id = p.id))
    """
)


def has_refund_work(session: Session) -> bool:
    return bool(session.scalar(_HAS_REFUND_WORK))
