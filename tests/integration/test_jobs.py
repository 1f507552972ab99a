"""The scheduled jobs against the real Postgres (and Redis for the warmer),
each run twice: a second run finds its work done and changes nothing."""

import csv
import io
import logging
from datetime import UTC, datetime, timedelta

import boto3
from sqlalchemy import text

from tests.factories import (
    auth_header,
    book,
    create_event,
    create_quota,
    create_ticket_type,
    order,
    quota_books,
    seat_books,
    take_seats_directly,
    user_token,
)
from tests.integration.test_events_cache import DatabaseActivity
from ticketmania.cache import get_cache
from ticketmania.db.engine import get_engine, open_session
from ticketmania.jobs import JobInput, run_job
from ticketmania.jobs.outbox_relay import QueuePublisher, relay_outbox
from ticketmania.settings import get_settings


def mail_files():
    folder = get_settings().ticketmania_data_dir / "mail"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def unpublished():
    with get_engine().connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )


# --- relay-outbox ----------------------------------------------------------------------------


def test_relay_without_a_queue_hands_messages_to_the_notifier(client, admin):
    event = create_event(client, admin, title="Jazz Night")
    user, token = user_token(client)
    book(client, token, event["id"], 2)
    first = run_job("relay-outbox")
    second = run_job("relay-outbox")
    assert (first["published"], second["published"], second["left"]) == (1, 0, 0)
    (mail,) = mail_files()
    text_of_mail = mail.read_text()
    assert "Jazz Night" in text_of_mail and user["email"] in text_of_mail
    assert "confirmed" in text_of_mail


def test_relay_with_the_queue_failing_loses_nothing(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    book(client, token, event["id"], 1)
    dead_queue = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",  # nothing listens here
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    outcome = relay_outbox(
        open_session, QueuePublisher(dead_queue, "http://127.0.0.1:9/queue/none")
    )
    assert (outcome["published"], outcome["failed"], outcome["left"]) == (0, 1, 1)
    assert unpublished() == 1
    assert run_job("relay-outbox")["published"] == 1  # the next run sends it
    assert unpublished() == 0


def test_relay_to_the_queue_marks_only_what_it_took(client, admin, aws):
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    event = create_event(client, admin)
    _, token = user_token(client)
    for _ in range(3):
        book(client, token, event["id"], 1)
    outcome = relay_outbox(open_session, QueuePublisher(sqs, queue_url))
    assert (outcome["published"], outcome["left"]) == (3, 0)
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    assert len(received["Messages"]) == 3
    assert relay_outbox(open_session, QueuePublisher(sqs, queue_url))["published"] == 0


# --- reconcile-seats ---------------------------------------------------------------------------


def test_reconcile_finds_drift_and_repairs_only_when_asked(client, admin, caplog):
    event = create_event(client, admin, total_seats=50)
    _, token = user_token(client)
    book(client, token, event["id"], 3)
    take_seats_directly(event["id"], 4)  # seats gone with no booking: drift
    caplog.set_level(logging.WARNING)
    found = run_job("reconcile-seats")
    assert [drift["event_id"] for drift in found["drifts"]] == [event["id"]]
    assert any("drift" in record.getMessage() for record in caplog.records)
    assert seat_books(event["id"]).available == 43  # not repaired without asking
    repaired = run_job("reconcile-seats", JobInput(repair=True))
    assert repaired["repaired"] == 1
    books = seat_books(event["id"])
    assert books.available == books.total - books.confirmed == 47
    assert run_job("reconcile-seats", JobInput(repair=True))["drifts"] == []


def test_reconcile_finds_and_repairs_a_quota_drift(client, admin):
    event = create_event(client, admin, total_seats=50)
    vip = create_ticket_type(client, admin, event["id"], name="VIP")
    quota = create_quota(
        client, admin, event["id"], size=10, ticket_type_ids=[vip["id"]]
    )
    _, token = user_token(client)
    order(client, token, event["id"], [(vip["id"], 3)])
    assert run_job("reconcile-seats")["quota_drifts"] == []
    with get_engine().begin() as connection:  # seats gone with no order: drift
        connection.execute(
            text(
                "UPDATE quota_shards SET available = available - 2 WHERE quota_id = :id"
            ),
            {"id": quota["id"]},
        )
    found = run_job("reconcile-seats")
    assert [(d["quota_id"], d["unsold"], d["used"]) for d in found["quota_drifts"]] == [
        (quota["id"], 5, 3)
    ]
    assert run_job("reconcile-seats", JobInput(repair=True))["repaired"] == 1
    assert run_job("reconcile-seats")["quota_drifts"] == []
    assert quota_books(event["id"])[0].unsold == 7


def test_reconcile_finds_nothing_on_books_that_balance(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 2).json()
    client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(token))
    assert run_job("reconcile-seats")["drifts"] == []
    assert run_job("reconcile-seats")["drifts"] == []


# --- purge-idempotency-keys ----------------------------------------------------------------------


def test_purge_forgets_keys_older_than_a_day_and_keeps_fresh_ones(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    old = book(client, token, event["id"], 1, key="old-key").json()
    book(client, token, event["id"], 1, key="fresh-key")
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                "WHERE key = 'old-key'"
            )
        )
    assert run_job("purge-idempotency-keys") == {"purged": 1}
    assert run_job("purge-idempotency-keys") == {"purged": 0}
    # The old key may be used again: a new booking, not the old one replayed.
    again = book(client, token, event["id"], 1, key="old-key")
    assert again.status_code == 201 and again.json()["id"] != old["id"]
    assert book(client, token, event["id"], 1, key="fresh-key").status_code == 200


# --- warm-cache --------------------------------------------------------------------------------------


def test_warm_cache_fills_the_first_pages(client, admin):
    for _ in range(3):
        create_event(client, admin)
    get_cache().client.flushdb()
    assert run_job("warm-cache") == {"pages": 3}
    assert run_job("warm-cache") == {"pages": 3}
    with DatabaseActivity() as activity:
        listed = client.get("/events")
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert activity.statements == 0


# --- sales-report ------------------------------------------------------------------------------------


def test_sales_report_counts_the_days_sales_and_cancellations(client, admin):
    first = create_event(client, admin, title="First", total_seats=20)
    second = create_event(client, admin, title="Second", total_seats=10)
    _, token = user_token(client)
    book(client, token, first["id"], 3)
    cancelled = book(client, token, first["id"], 2).json()
    client.post(f"/bookings/{cancelled['id']}/cancel", headers=auth_header(token))
    book(client, token, second["id"], 1)
    today = datetime.now(UTC).date()
    outcome = run_job("sales-report", JobInput(day=today))
    assert outcome["events"] == 2
    report = get_settings().ticketmania_data_dir / "reports" / f"sales-{today}.csv"
    content = report.read_text()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [
        (
            row["title"],
            row["ticket_type"],
            row["seats_sold"],
            row["cancellations"],
            row["seats_left"],
        )
        for row in rows
    ] == [
        ("First", "", "5", "1", "17"),
        ("First", "Admission", "5", "1", ""),
        ("Second", "", "1", "0", "9"),
        ("Second", "Admission", "1", "0", ""),
    ]
    run_job("sales-report", JobInput(day=today))
    assert report.read_text() == content  # the same file, written again
    yesterday = run_job("sales-report", JobInput(day=today - timedelta(days=1)))
    assert yesterday["events"] == 0


def test_sales_report_has_a_row_per_ticket_type_with_its_revenue(client, admin):
    event = create_event(client, admin, total_seats=20, currency="GBP")
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=5000)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=1500)
    _, token = user_token(client)
    paid = [
        order(client, token, event["id"], lines).json()["id"]
        for lines in ([(vip["id"], 1), (std["id"], 2)], [(std["id"], 1)])
    ]
    # Paid, as a payment's success leaves them (tests/integration/test_payments.py).
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE bookings SET status = 'confirmed', expires_at = NULL "
                "WHERE id = ANY(CAST(:ids AS bigint[]))"
            ),
            {"ids": paid},
        )
    # A later price edit changes no sale's revenue.
    client.patch(
        f"/ticket-types/{std['id']}",
        json={"price_minor": 1},
        headers=auth_header(admin),
    )
    today = datetime.now(UTC).date()
    run_job("sales-report", JobInput(day=today))
    report = get_settings().ticketmania_data_dir / "reports" / f"sales-{today}.csv"
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [
        (row["ticket_type"], row["seats_sold"], row["currency"], row["revenue_minor"])
        for row in rows
    ] == [
        ("", "4", "GBP", "9500"),
        ("Admission", "0", "GBP", "0"),
        ("VIP", "1", "GBP", "5000"),
        ("Std", "3", "GBP", "4500"),
    ]


def test_sales_report_goes_to_the_bucket_when_one_is_named(
    client, admin, aws, monkeypatch
):
    boto3.client("s3").create_bucket(Bucket="reports")
    monkeypatch.setattr(get_settings(), "reports_bucket", "reports")
    create_event(client, admin)
    day = datetime.now(UTC).date()
    outcome = run_job("sales-report", JobInput(day=day))
    assert outcome["location"] == f"s3://reports/reports/sales-{day}.csv"
    body = boto3.client("s3").get_object(
        Bucket="reports", Key=f"reports/sales-{day}.csv"
    )
    assert body["Body"].read().decode().startswith("event_id,title,event_date")
