"""Payment rules as plain functions, handed a session, a provider and a clock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from payments.schemas import LineCancelled, PaymentOut, RefundOut
from ticketmania import seat_release, sold_out
from ticketmania.booking_access import visible_booking
from ticketmania.cache import Cache
from ticketmania.db import orders as order_table
from ticketmania.db import payments as payment_table
from ticketmania.db import waitlist as waitlist_table
from ticketmania.db.models import User
from ticketmania.errors import (
    Conflict,
    Forbidden,
    HoldExpired,
    IdempotencyMismatch,
    InvalidSignature,
    NotFound,
    NotPayable,
    RefundExceedsCaptured,
)
from ticketmania.observability import count, logger
from ticketmania.payments import settlement
from ticketmania.payments.provider import InvalidWebhook, PaymentProvider


@dataclass(frozen=True)
class Started:
    payment: PaymentOut
    is_new: bool


def _shown(payment: payment_table.Payment, client_secret: str | None) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        order_id=payment.booking_id,
        provider=payment.provider,
        status="succeeded" if payment.status == "succeeded" else "open",
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        client_secret=client_secret,
    )


def start_payment(
    session: Session,
    provider: PaymentProvider,
    *,
    order_id: int,
    user: User,
    provider_name: str,
    now: datetime,
) -> Started:
    """The order's one payment at the provider: made once, under the order's
    lock, with an idempotency key of the order's (a repeat, or a request racing
    this one, gets the same payment)."""
    logger.append_keys(booking_id=order_id)
    booking = visible_booking(session, order_id, user)
    if booking.user_id != user.id:  # its owner pays, not an admin
        raise NotFound("Booking not found")
    if provider_name != provider.name:
        raise NotPayable(f"Payments go through {provider.name} here")
    payment_table.lock_booking(session, order_id)
    session.refresh(booking)
    existing = payment_table.of_booking(session, order_id)
    if existing is not None:
        found = provider.retrieve(existing.provider_payment_id)
        return Started(_shown(existing, found.client_secret), is_new=False)
    if booking.total_minor == 0:
        raise NotPayable("A free order needs no payment")
    if booking.status == "confirmed":
        raise NotPayable("The order is paid")
    if booking.status != "held" or (
        booking.expires_at is not None and booking.expires_at <= now
    ):
        if booking.status == "cancelled":
            raise Conflict("The order is cancelled")
        raise HoldExpired("The order's hold has ended: its seats are released")
    made = provider.create(
        amount_minor=booking.total_minor,
        currency=booking.currency,
        idempotency_key=f"ticketmania-order-{order_id}",
        metadata={"order_id": str(order_id)},
    )
    payment = payment_table.insert(
        session,
        booking_id=order_id,
        provider=provider.name,
        provider_payment_id=made.id,
        amount_minor=booking.total_minor,
        currency=booking.currency,
    )
    session.commit()
    count("PaymentsStarted")
    return Started(_shown(payment, made.client_secret), is_new=True)


def take_webhook(
    session: Session,
    provider: PaymentProvider,
    *,
    body: bytes,
    signature: str | None,
    max_seats_per_user: int,
    now: datetime,
) -> bool:
    """Verify the event and let it take effect once: the row keyed by its id is
    written in the same transaction as what it does. True: it took effect now."""
    try:
        event = provider.parse_webhook(body, signature)
    except InvalidWebhook:
        count("WebhooksRefused")
        raise InvalidSignature() from None
    logger.append_keys(provider_event_id=event.id)
    refunds: list[int] = []
    if event.type == "payment_intent.succeeded" and event.payment_id is not None:
        payment = payment_table.by_provider_id(session, provider.name, event.payment_id)
        if payment is not None:
            logger.append_keys(booking_id=payment.booking_id)
            settlement.lock_for_success(session, payment.booking_id)
            payment = payment_table.by_provider_id(
                session, provider.name, event.payment_id, lock=True
            )
    else:
        payment = None
    if not payment_table.record_event(
        session, provider=provider.name, event_id=event.id, event_type=event.type
    ):
        session.rollback()
        return False
    if payment is not None:
        refunds = settlement.apply_success(
            session,
            payment,
            amount_minor=event.amount_minor,
            max_seats_per_user=max_seats_per_user,
            now=now,
        )
    session.commit()
    settlement.carry_out(session, provider, refunds)
    return True


def _refund_hash(order_id: int, amount_minor: int) -> str:
    canonical = json.dumps({"order_id": order_id, "amount_minor": amount_minor})
    return hashlib.sha256(canonical.encode()).hexdigest()


def refund(
    session: Session,
    provider: PaymentProvider,
    *,
    order_id: int,
    amount_minor: int,
    admin: User,
    idempotency_key: str | None,
) -> tuple[RefundOut, bool]:
    """Refund part or all of what the order's payment captured, never more
    (counting every refund decided); the same Idempotency-Key refunds once."""
    logger.append_keys(booking_id=order_id)
    digest = _refund_hash(order_id, amount_minor)
    if idempotency_key is not None:
        prior = payment_table.prior_refund(
            session, requested_by=admin.id, key=idempotency_key
        )
        if prior is not None:
            if prior.request_hash != digest:
                raise IdempotencyMismatch()
            return _refund_out(prior, order_id), False
    if payment_table.lock_booking(session, order_id) is None:
        raise NotFound("Order not found")
    payment = payment_table.of_booking(session, order_id, lock=True)
    if payment is None or payment.status != "succeeded":
        raise NotPayable("The order has no captured payment to refund")
    left = payment.captured_minor - payment_table.refunded(session, payment.id)
    if amount_minor > left:
        raise RefundExceedsCaptured(f"At most {left} can be refunded")
    refund_id = payment_table.add_refund(
        session,
        payment,
        amount_minor=amount_minor,
        reason="admin",
        requested_by=admin.id,
        idempotency_key=idempotency_key,
        request_hash=digest,
    )
    session.commit()
    settlement.carry_out(session, provider, [refund_id])
    return _refund_out(payment_table.get_refund(session, refund_id), order_id), True


def _refund_out(refund: payment_table.Refund, order_id: int) -> RefundOut:
    return RefundOut(
        id=refund.id,
        order_id=order_id,
        amount_minor=refund.amount_minor,
        status="succeeded" if refund.status == "succeeded" else "pending",
        reason=refund.reason,
    )


def cancel_line(
    session: Session,
    provider: PaymentProvider,
    cache: Cache,
    *,
    order_id: int,
    ticket_type_id: int,
    user: User,
    now: datetime,
    offer_seconds: int,
) -> LineCancelled:
    """Cancel one line of a paid order of several, for an admin or, where the
    event lets its buyers, the order's owner: its seats back to the event and
    to the quotas that line took from, and a refund of exactly its price."""
    logger.append_keys(booking_id=order_id)
    try:
        cancelled = order_table.cancel_line(
            session,
            booking_id=order_id,
            ticket_type_id=ticket_type_id,
            now=now,
            buyer_id=None if user.role == "admin" else user.id,
        )
    except order_table.LineNotCancellable as exc:
        raise Conflict(str(exc)) from None
    except order_table.NotTheBuyersToCancel as exc:
        raise Forbidden(str(exc)) from None
    if cancelled is None:
        raise NotFound("No such line in the order")
    payment = payment_table.of_booking(session, order_id, lock=True)
    refund_id = None
    if payment is not None and payment.status == "succeeded":
        left = payment.captured_minor - payment_table.refunded(session, payment.id)
        amount = min(cancelled.amount_minor, left)
        if amount > 0:
            refund_id = payment_table.add_refund(
                session, payment, amount_minor=amount, reason="line cancelled"
            )
    event_id = cancelled.event_id
    session.commit()
    count("OrderLinesCancelled")
    if waitlist_table.has_waiting(session, event_id):
        seat_release.settle(session, event_id, now=now, offer_seconds=offer_seconds)
        session.commit()
    else:
        sold_out.seats_given_back(cache, event_id)
    refund = None
    if refund_id is not None:
        settlement.carry_out(session, provider, [refund_id])
        refund = _refund_out(payment_table.get_refund(session, refund_id), order_id)
    return LineCancelled(
        order_id=order_id,
        ticket_type_id=ticket_type_id,
        quantity=cancelled.quantity,
        refund=refund,
    )


def payment_of(
    session: Session, provider: PaymentProvider, *, order_id: int, user: User
) -> PaymentOut:
    """The order's payment, as it is now (its owner, or an admin)."""
    booking = visible_booking(session, order_id, user)
    payment = payment_table.of_booking(session, order_id)
    if payment is None:
        raise NotFound("The order has no payment")
    found = provider.retrieve(payment.provider_payment_id)
    return _shown(payment, found.client_secret if user.id == booking.user_id else None)
