"""Booking e-mails: each sent once however often its message arrives, a
malformed message failing alone, and a booking made through the API ending as
exactly one e-mail, both locally (a file) and in AWS (one SES send, against a
moto server over HTTP)."""

import json
import uuid

import boto3
import pytest

from tests.factories import auth_header, book, create_event, user_token
from tests.lambda_events import LambdaContext
from ticketmania.db.engine import open_session
from ticketmania.jobs import run_job
from ticketmania.jobs.outbox_relay import QueuePublisher, relay_outbox
from ticketmania.settings import get_settings


@pytest.fixture
def consumer():
    from notifications import consumer

    return consumer


def mail_files():
    folder = get_settings().ticketmania_data_dir / "mail"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def sqs_event(*bodies):
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def outbox_bodies():
    from ticketmania.db import outbox

    with open_session() as session:
        return [
            json.dumps(m.as_json()) for m in outbox.take_unpublished(session, limit=100)
        ]


def test_a_message_delivered_twice_sends_once(client, admin, consumer):
    event = create_event(client, admin)
    _, token = user_token(client)
    book(client, token, event["id"], 2)
    (body,) = outbox_bodies()
    answer = consumer.handler(sqs_event(body, body), LambdaContext())
    assert answer == {"batchItemFailures": []}
    consumer.handler(sqs_event(body), LambdaContext())
    assert len(mail_files()) == 1


def test_a_malformed_record_fails_alone(client, admin, consumer):
    event = create_event(client, admin)
    _, token = user_token(client)
    book(client, token, event["id"], 1)
    (good,) = outbox_bodies()
    batch = sqs_event("not json", good, json.dumps({"outbox_id": 1, "topic": "x"}))
    answer = consumer.handler(batch, LambdaContext())
    failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    records = batch["Records"]
    assert failed == {records[0]["messageId"], records[2]["messageId"]}
    assert len(mail_files()) == 1


def test_an_event_cancellation_tells_every_holder_once(client, admin, consumer):
    event = create_event(client, admin, title="Gone Gig")
    holders = [user_token(client) for _ in range(2)]
    for _, token in holders:
        book(client, token, event["id"], 1)
        book(client, token, event["id"], 1)
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    run_job("relay-outbox")
    cancelled = [
        path for path in mail_files() if "Gone Gig is cancelled" in path.read_text()
    ]
    assert len(cancelled) == 2  # one per holder, not per booking
    assert run_job("relay-outbox")["published"] == 0


def test_a_booking_through_the_api_is_one_email_file_locally(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    assert book(client, token, event["id"], 1, key="once").status_code == 201
    assert book(client, token, event["id"], 1, key="once").status_code == 200  # a retry
    run_job("relay-outbox")
    run_job("relay-outbox")
    assert len(mail_files()) == 1


def test_a_booking_through_the_api_is_one_ses_send_through_aws(
    client, admin, aws, monkeypatch
):
    sqs, ses = boto3.client("sqs"), boto3.client("ses")
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    ses.verify_email_identity(EmailAddress="tickets@example.com")
    monkeypatch.setattr(get_settings(), "mail_backend", "ses")
    monkeypatch.setattr(
        get_settings(), "mail_from", "TicketMania <tickets@example.com>"
    )
    from ticketmania.mail import mailbox_for

    event = create_event(client, admin)
    _, token = user_token(client)
    book(client, token, event["id"], 2)
    assert relay_outbox(open_session, QueuePublisher(sqs, queue_url))["published"] == 1

    # What Lambda's SQS event source would hand NotificationsFunction, twice over.
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    from notifications import consumer

    ses_mailbox = mailbox_for(get_settings())
    monkeypatch.setattr(consumer, "get_mailbox", lambda: ses_mailbox)
    batch = sqs_event(*(message["Body"] for message in received))
    assert consumer.handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert consumer.handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert ses.get_send_quota()["SentLast24Hours"] == 1
    assert mail_files() == []


def test_every_email_has_a_date_and_a_message_id(client, admin):
    from email import message_from_bytes
    from email.utils import parsedate_to_datetime

    event = create_event(client, admin)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 1).json()
    client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(token))
    run_job("relay-outbox")
    files = mail_files()
    assert len(files) == 2
    for path in files:
        message = message_from_bytes(path.read_bytes())
        assert parsedate_to_datetime(message["Date"]).tzinfo is not None
        assert message["Message-ID"].startswith("<outbox-")


def test_under_sam_local_emails_and_reports_are_written_whole_to_the_log(
    client, admin, monkeypatch, caplog
):
    """`sam local` deletes the container, and its files, after each invocation."""
    from datetime import UTC, datetime

    from ticketmania.jobs import JobInput
    from ticketmania.observability import logger

    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    event = create_event(client, admin, title="Logged Live")
    _, token = user_token(client)
    book(client, token, event["id"], 1)
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        run_job("relay-outbox")
        run_job("sales-report", JobInput(day=datetime.now(UTC).date()))
    finally:
        logger.setLevel(level)
    emails = [r.email for r in caplog.records if r.getMessage() == "e-mail written"]
    reports = [r.report for r in caplog.records if r.getMessage() == "report written"]
    assert len(emails) == 1 and "Logged Live" in emails[0]
    assert len(reports) == 1 and "Logged Live" in reports[0]
