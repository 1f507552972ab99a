"""Booking e-mails: composed one way, delivered through a mailbox.

Two mailboxes: Amazon SES (MAIL_BACKEND=ses, in AWS) and a folder of `.eml`
files (the default, for local runs and tests), as a file-based mail backend
keeps them: one file per e-mail, named after the outbox message and the user,
which a mail client opens as is.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

from ticketmania.db import outbox
from ticketmania.db.notifications import Recipient
from ticketmania.observability import logger
from ticketmania.settings import Settings, get_settings

_SUBJECTS = {
    outbox.BOOKING_CONFIRMED: "Your booking for {title} is confirmed",
    outbox.BOOKING_CANCELLED: "Your booking for {title} is cancelled",
    outbox.EVENT_CANCELLED: "{title} is cancelled",
    outbox.HOLD_EXPIRED: "Your hold for {title} has expired",
    outbox.WAITLIST_OFFERED: "Seats for {title} are held for you",
}
_OPENINGS = {
    outbox.BOOKING_CONFIRMED: "your {seats} seat(s) for {title} are booked (booking {bookings}).",
    outbox.BOOKING_CANCELLED: "your booking {bookings} for {title} is cancelled; its {seats} seat(s) are released.",
    outbox.EVENT_CANCELLED: "{title} has been cancelled by the organiser. Your booking(s) {bookings} "
    "for {seats} seat(s) are cancelled.",
    outbox.HOLD_EXPIRED: "your hold {bookings} on {seats} seat(s) for {title} has expired "
    "unconfirmed; its seats are released.",
    outbox.WAITLIST_OFFERED: "{seats} seat(s) for {title} came back, and they are held for "
    "you, first on the waitlist, until {ends} UTC (booking {bookings}). Confirm it to "
    "book them (POST /bookings/<id>/confirm); after that they go to the next in line.",
}


def _one_line(text: str) -> str:
    # Header values may not break lines; titles and names are user input.
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


@dataclass(frozen=True)
class TicketImage:
    """A booking's ticket, for its confirmation e-mail: the code and its QR image."""

    booking_id: int
    code: str
    png: bytes


def compose(
    *,
    topic: str,
    recipient: Recipient,
    outbox_id: int,
    mail_from: str,
    tickets: Sequence[TicketImage] = (),
) -> EmailMessage:
    ends = recipient.hold_ends_at
    facts = {
        "title": _one_line(recipient.event_title),
        "seats": recipient.seats,
        "bookings": ", ".join(f"#{booking_id}" for booking_id in recipient.booking_ids),
        "ends": f"{ends:%A %d %B %Y, %H:%M:%S}" if ends is not None else "",
    }
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = Address(
        display_name=_one_line(recipient.name), addr_spec=recipient.email
    )
    message["Subject"] = _SUBJECTS[topic].format(**facts)
    message["Date"] = formatdate(usegmt=True)  # RFC 5322 requires one
    # The same id for every delivery of this e-mail: a mail system can tell repeats.
    # (SES replaces it with its own; each e-mail goes out once because of its
    # claim in sent_notifications, never because of a header.)
    message["Message-ID"] = f"<outbox-{outbox_id}-user-{recipient.user_id}@ticketmania>"
    at_the_door = "".join(
        f"\n\nYour ticket for booking #{ticket.booking_id}, to show at the door "
        f"(the QR image attached, or this code):\n{ticket.code}"
        for ticket in tickets
    )
    message.set_content(
        f"Hello {_one_line(recipient.name)},\n\n"
        + _OPENINGS[topic].format(**facts)
        + at_the_door
        + f"\n\n{facts['title']}\n{recipient.event_date:%A %d %B %Y, %H:%M} UTC\n"
        f"{_one_line(recipient.event_location)}\n\nTicketMania\n"
    )
    for ticket in tickets:
        message.add_attachment(
            ticket.png,
            maintype="image",
            subtype="png",
            filename=f"ticket-{ticket.booking_id}.png",
        )
    return message


class Mailbox(Protocol):
    def deliver(self, message: EmailMessage, *, name: str) -> None: ...


class FileMailbox:
    """Each e-mail an `.eml` file in `folder`, written whole or not at all; with
    `echo_to_log`, also whole in the log (under `sam local`, whose container and
    its files are gone once the invocation ends)."""

    def __init__(self, folder: Path, *, echo_to_log: bool = False) -> None:
        self.folder = folder
        self.echo_to_log = echo_to_log

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{name}.eml.partial"
        partial.write_bytes(bytes(message))
        os.replace(partial, self.folder / f"{name}.eml")
        if self.echo_to_log:
            logger.info(
                "e-mail written",
                extra={"file": f"{name}.eml", "email": message.as_string()},
            )


class SesMailbox:
    def __init__(self, client: Any) -> None:
        self.client = client

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        # SES reads the sender and the recipients from the message's own headers.
        self.client.send_raw_email(RawMessage={"Data": bytes(message)})


@functools.cache
def get_mailbox() -> Mailbox:
    """The container's mailbox, built once from its settings."""
    return mailbox_for(get_settings())


def mailbox_for(settings: Settings) -> Mailbox:
    if settings.mail_backend == "ses":
        import boto3  # the Lambda runtime's; honours AWS_ENDPOINT_URL

        return SesMailbox(boto3.client("ses"))
    return FileMailbox(
        settings.ticketmania_data_dir / "mail", echo_to_log=settings.is_sam_local
    )
