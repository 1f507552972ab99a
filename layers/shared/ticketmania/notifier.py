"""Turn one outbox message into the e-mails it calls for, each sent exactly once.

A message may arrive twice (SQS delivers at least once; a relay may resend
after a crash). Each e-mail is claimed in sent_notifications in a transaction
that commits only after the mailbox took it: a second delivery finds the claim
and sends nothing; a delivery racing the first waits for it; a failed send
rolls its claim back, so the retry sends it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ticketmania.db import notifications, outbox
from ticketmania.mail import Mailbox, TicketImage, compose
from ticketmania.observability import count, logger


class MalformedMessage(ValueError):
    """A queue message that is not an outbox message: it can never be sent."""


def parse_message(body: str) -> outbox.Message:
    try:
        data: Any = json.loads(body)
        message = outbox.Message(
            id=int(data["outbox_id"]),
            topic=str(data["topic"]),
            payload=dict(data["payload"]),
        )
        booking_ids_of(message)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedMessage(f"not an outbox message: {type(exc).__name__}") from exc
    return message


def booking_ids_of(message: outbox.Message) -> list[int]:
    if message.topic in (
        outbox.BOOKING_CONFIRMED,
        outbox.BOOKING_CANCELLED,
        outbox.HOLD_EXPIRED,
        outbox.WAITLIST_OFFERED,
    ):
        return [int(message.payload["booking_id"])]
    if message.topic == outbox.EVENT_CANCELLED:
        return [int(booking_id) for booking_id in message.payload["booking_ids"]]
    raise ValueError(f"unknown topic {message.topic!r}")


def tickets_of(session: Session, message: outbox.Message) -> list[TicketImage]:
    """A confirmation's ticket (its code, naming the order's lines, and its QR
    image), to carry in its e-mail."""
    if message.topic != outbox.BOOKING_CONFIRMED:
        return []
    # Here, not at import: only the functions that send confirmations carry the
    # ticket layer (cryptography, segno).
    from ticketmania import tickets
    from ticketmania.db import orders

    payload = message.payload
    booking_id = int(payload["booking_id"])
    lines = orders.ticket_lines(
        session,
        booking_id=booking_id,
        event_id=int(payload["event_id"]),
        seats=int(payload["seats_booked"]),
    )
    code = tickets.sign(
        tickets.get_key_ring(),
        tickets.TicketClaims(
            booking_id=booking_id,
            event_id=int(payload["event_id"]),
            seats=int(payload["seats_booked"]),
            issued_at=datetime.now(UTC),
            lines=lines,
        ),
    )
    return [
        TicketImage(
            booking_id=int(payload["booking_id"]), code=code, png=tickets.qr_png(code)
        )
    ]


def notify(
    session: Session,
    mailbox: Mailbox,
    message: outbox.Message,
    *,
    mail_from: str,
) -> int:
    """Send the message's e-mails that were not sent yet; how many were sent now.

    On `session` alone (a container's one connection), committing each e-mail's
    claim once the mailbox took it; a failure leaves the rest for the retry."""
    recipients = notifications.recipients_of(session, booking_ids_of(message))
    session.commit()
    images = tickets_of(session, message)
    sent = 0
    for recipient in recipients:
        if not notifications.claim(
            session, outbox_id=message.id, user_id=recipient.user_id
        ):
            session.rollback()
            continue
        mailbox.deliver(
            compose(
                topic=message.topic,
                recipient=recipient,
                outbox_id=message.id,
                mail_from=mail_from,
                tickets=images,
            ),
            name=f"{message.id}-{recipient.user_id}",
        )
        session.commit()
        sent += 1
    if sent:
        count("EmailsSent", sent)
        logger.info("e-mails sent", extra={"outbox_id": message.id, "emails": sent})
    return sent
