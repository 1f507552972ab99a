"""What a payment's success does, and refunds carried out: shared by the
webhook (PaymentsFunction) and the jobs that recover what a lost webhook or a
failed call left (AdminJobsFunction).

A success pays its order if the order can still be had (held, settled or
not: until then its seats are still the order's), else the whole amount is
refunded and the order stays as it is (expired or cancelled): never paid
without seats, never seats taken twice. The order row is locked first, so a
success and the hold's settlement take turns on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania.db import payments as payment_table
from ticketmania.db.engine import SessionOpener
from ticketmania.observability import count, logger
from ticketmania.payments.provider import PaymentProvider


def apply_success(
    session: Session,
    payment: payment_table.Payment,
    *,
    amount_minor: int,
    now: datetime,
) -> list[int]:
    """Pay the order, or refund the payment whole when its order is gone;
    the refunds to carry out once the caller has committed."""
    payment_table.lock_booking(session, payment.booking_id)
    if payment.status == "succeeded":
        return []  # taken into account already
    if payment_table.pay(session, payment, amount_minor=amount_minor, now=now):
        count("OrdersPaid")
        return []
    left = amount_minor - payment_table.refunded(session, payment.id)
    if left <= 0:
        return []
    logger.info(
        "a payment succeeded for an order that is gone: refunded",
        extra={"booking_id": payment.booking_id},
    )
    count("PaymentsRefundedUnplaced")
    return [
        payment_table.add_refund(session, payment, amount_minor=left, reason="unplaced")
    ]


def carry_out(
    session: Session, provider: PaymentProvider, refund_ids: list[int]
) -> None:
    """Ask the provider for each refund (its idempotency key is the refund's
    id, so a retry refunds once) and mark it done. A failure leaves it
    pending for the refunds job."""
    for refund_id in refund_ids:
        refund = payment_table.get_refund(session, refund_id)
        if refund.status != "pending":
            continue
        try:
            done = provider.refund(
                payment_id=refund.provider_payment_id,
                amount_minor=refund.amount_minor,
                idempotency_key=f"ticketmania-refund-{refund.id}",
            )
        except Exception:  # the decision is committed: the refunds job retries it
            logger.exception("refund left pending", extra={"refund_id": refund.id})
            session.rollback()
            continue
        payment_table.mark_refunded(session, refund.id, done.id)
        session.commit()
        count("Refunds")


def decide_owed(open_session: SessionOpener) -> int:
    """A refund of the rest for each captured payment whose order was
    cancelled since (the cancellation is one statement on the buyer's path,
    which knows no provider: its refund is decided here, from the state it
    left). How many were decided."""
    with open_session() as session:
        candidates = payment_table.owed(session)
    decided = 0
    for candidate in candidates:
        with open_session() as session:
            payment_table.lock_booking(session, candidate.booking_id)
            payment = payment_table.of_booking(session, candidate.booking_id, lock=True)
            if payment is None:
                continue
            left = payment.captured_minor - payment_table.refunded(session, payment.id)
            if left > 0:
                payment_table.add_refund(
                    session, payment, amount_minor=left, reason="cancelled"
                )
                decided += 1
            session.commit()
    return decided


def refund_pending(open_session: SessionOpener, provider: PaymentProvider) -> int:
    """Decide the refunds cancellations owe, then carry out every refund still
    pending (those, or one whose call failed); how many were done."""
    decide_owed(open_session)
    done = 0
    while True:
        with open_session() as session:
            batch = payment_table.lock_pending_refunds(session, limit=20)
            if not batch:
                return done
            for refund in batch:
                made = provider.refund(
                    payment_id=refund.provider_payment_id,
                    amount_minor=refund.amount_minor,
                    idempotency_key=f"ticketmania-refund-{refund.id}",
                )
                payment_table.mark_refunded(session, refund.id, made.id)
            session.commit()
            done += len(batch)


def recover_successes(
    open_session: SessionOpener, provider: PaymentProvider, *, now: datetime
) -> int:
    """Before ended holds are let go: ask the provider about each one's open
    payment; a success (its webhook lost) pays the order. How many did."""
    with open_session() as session:
        candidates = payment_table.open_on_ended_holds(session, now=now)
    recovered = 0
    for candidate in candidates:
        found = provider.retrieve(candidate.provider_payment_id)
        if found.status != "succeeded":
            continue
        with open_session() as session:
            payment_table.lock_booking(session, candidate.booking_id)
            payment = payment_table.of_booking(session, candidate.booking_id, lock=True)
            if payment is None:
                continue
            refunds = apply_success(
                session, payment, amount_minor=found.amount_minor, now=now
            )
            session.commit()
            carry_out(session, provider, refunds)
        recovered += 1
    return recovered
