"""relay-outbox: unpublished outbox messages to the notifications queue.

A message is marked published only once the queue has taken it, in the same
transaction that held it: when the queue fails, the message stays unpublished
and the next run sends it. So a message is sent at least once; the consumer
makes each e-mail go out once (ticketmania/notifier.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ticketmania.db import outbox
from ticketmania.db.engine import SessionOpener
from ticketmania.mail import Mailbox
from ticketmania.notifier import notify
from ticketmania.observability import count, logger

BATCH = 10  # SQS takes at most 10 messages per SendMessageBatch
MAX_BATCHES = 50  # a run's share: the next one, a minute later, takes the rest


class Publisher(Protocol):
    def publish(self, session: Session, messages: list[outbox.Message]) -> list[int]:
        """Hand the messages on; the ids of those accepted. `session` holds them
        locked, and is the one connection a Lambda container has."""
        ...


class QueuePublisher:
    """The notifications queue (SQS)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def publish(self, session: Session, messages: list[outbox.Message]) -> list[int]:
        answer = self.client.send_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(message.id), "MessageBody": json.dumps(message.as_json())}
                for message in messages
            ],
        )
        for failure in answer.get("Failed", []):
            logger.warning(
                "queue refused a message", extra={"outbox_id": failure["Id"]}
            )
        return [int(entry["Id"]) for entry in answer.get("Successful", [])]


class DirectPublisher:
    """No queue (a local run, `sam local`): straight to the notifier, on the
    relay's own session. A Lambda container has one connection, and the relay
    holds it: a session of the notifier's own would wait for it forever.

    The notifier commits each e-mail's claim as it sends it, which also ends
    the relay's lock on the messages; a relay running at once may then take
    one of them again, and finds its e-mails claimed: nothing goes out twice.
    """

    def __init__(self, mailbox: Mailbox, mail_from: str) -> None:
        self.mailbox = mailbox
        self.mail_from = mail_from

    def publish(self, session: Session, messages: list[outbox.Message]) -> list[int]:
        accepted = []
        for message in messages:
            try:
                notify(session, self.mailbox, message, mail_from=self.mail_from)
            except Exception:  # this message stays unpublished; the others go on
                session.rollback()
                logger.exception("notification failed", extra={"outbox_id": message.id})
                continue
            accepted.append(message.id)
        return accepted


def relay_outbox(
    open_session: SessionOpener,
    publisher: Publisher,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    """Publish what waits, a batch per transaction, on one connection at a time."""
    published = failed = 0
    for _ in range(MAX_BATCHES):
        with open_session() as session:
            messages = outbox.take_unpublished(session, limit=BATCH)
            if not messages:
                break
            try:
                accepted = publisher.publish(session, messages)
            except Exception:
                # The queue is down: nothing is marked, the next run sends them.
                logger.exception("relay could not publish; messages stay unpublished")
                count("OutboxRelayFailures")
                failed += len(messages)
                break
            outbox.mark_published(session, accepted, now=clock())
            session.commit()
        published += len(accepted)
        failed += len(messages) - len(accepted)
        if len(accepted) < len(messages):
            break  # what was refused is retried by the next run, not this one
    with open_session() as session:
        left = outbox.count_unpublished(session)
    if published:
        count("OutboxPublished", published)
    return {"published": published, "failed": failed, "left": left}
