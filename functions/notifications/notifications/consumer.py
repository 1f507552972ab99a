"""NotificationsFunction's entry point. Handler: notifications.consumer.handler.

The notifications queue's batches, one record at a time (Powertools batch
processing): each record is one outbox message, and its e-mails go out
through SES, each once however often the message arrives. A record that
fails (malformed, or SES refused) fails alone: it is reported back to SQS as
a partial batch failure, retried, and after five tries moved to the
dead-letter queue; the others of its batch are done.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ticketmania.db.engine import open_session
from ticketmania.mail import get_mailbox
from ticketmania.notifier import notify, parse_message
from ticketmania.observability import lambda_entry
from ticketmania.settings import get_settings

get_mailbox()  # built at the cold start: a bad configuration fails it there
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> int:
    """Send one outbox message's e-mails; raise to fail this record alone."""
    message = parse_message(record.body)
    with open_session() as session:
        return notify(
            session, get_mailbox(), message, mail_from=get_settings().mail_from
        )


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # {"batchItemFailures": [{"itemIdentifier": <message id>}, ...]}
    return dict(
        process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=processor,
            context=context,
        )
    )
