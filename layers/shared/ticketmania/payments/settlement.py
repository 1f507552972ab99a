"""What a payment's success does, and refunds carried out: shared by the
webhook (PaymentsFunction) and the jobs that recover what a lost webhook or a
failed call left (AdminJobsFunction).

A success pays its order if the order can still be had (held, settled or
not: until then its seats are still the order's). An order whose hold was
let go (`expired`) is taken again first, all of it, when the event's shards
and its quotas still have the seats (db/orders.retake); else the whole amount
is refunded and the order stays as it is (expired, or cancelled by its
owner): never paid without seats, never seats taken twice.

Locks (`lock_for_success`): the event's admin-write lock first, as every
settlement of holds takes it, so an order's status cannot turn `expired`
under a success; then, for an expired order only, the event's shards in
order (a re-take writes them); then the order's row. The order of every
other multi-lock write: no deadlock with a cancellation or a settlement.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ticketmania.db import events as event_table
from ticketmania.db import orders as order_table
from ticketmania.db import payments as payment_table
from ticketmania.db.engine import SessionOpener
from ticketmania.observability import count, logger
from ticketmania.payments.provider import PaymentProvider


def lock_for_success(session: Session, booking_id: int) -> bool:
    """Take the locks a success needs, in the order the module's doc gives;
    False when there is no such order."""
    event_id = payment_table.event_of_booking(session, booking_id)
    if event_id is None:
        return False
    event_table.lock_for_admin_write(session, event_id)
    # Read once the lock is held: only a settlement, which holds it too, ends a hold.
    if payment_table.status_of_booking(session, booking_id) == "expired":
        event_table.lock_seats(session, event_id)
    payment_table.lock_booking(session, booking_id)
    return True


def apply_success(
    session: Session,
    payment: payment_table.Payment,
    *,
    amount_minor: int,
    max_seats_per_user: int,
    now: datetime,
) -> list[int]:
    """Pay the order (taken again first if its hold was let go), or refund
    the payment whole when its seats are gone; the refunds to carry out once
    the caller has committed. Run after `lock_for_success`."""
    if payment.status == "succeeded":
        return []  # taken into account already
    if payment_table.pay(session, payment, amount_minor=amount_minor, now=now):
        count("OrdersPaid")
        return []
    if order_table.retake(
        session, payment.booking_id, max_seats_per_user=max_seats_per_user, now=now
    ) and payment_table.pay(session, payment, amount_minor=amount_minor, now=now):
        logger.info(
            "a payment succeeded after its hold was let go: seats taken again",
            extra={"booking_id": payment.booking_id},
        )
        count("OrdersPaid")
        count("OrdersRetaken")
        return []
    left = amount_minor - payment_table.refunded(session, payment.id)
    if left <= 0:
        return []
    logger.info(
        "a payment succeeded for an order whose seats are gone: refunded",
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
    open_session: SessionOpener,
    provider: PaymentProvider,
    *,
    max_seats_per_user: int,
    now: datetime,
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
            lock_for_success(session, candidate.booking_id)
            payment = payment_table.of_booking(session, candidate.booking_id, lock=True)
            if payment is None:
                continue
            refunds = apply_success(
                session,
                payment,
                amount_minor=found.amount_minor,
                max_seats_per_user=max_seats_per_user,
                now=now,
            )
            session.commit()
            carry_out(session, provider, refunds)
        recovered += 1
    return recovered
