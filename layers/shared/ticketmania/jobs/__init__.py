"""The scheduled jobs. Each is a plain function (one module each), safe to run
twice or at once; this registry wires it to the container's clients, names
it, and says how often it runs. `ticketmania job NAME` runs one locally,
`ticketmania serve` runs them all on their schedules, and in AWS
AdminJobsFunction runs each from its EventBridge schedule (template.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ticketmania.cache import get_cache
from ticketmania.db.engine import open_job_session
from ticketmania.jobs.cache_warmer import warm_cache
from ticketmania.jobs.hold_expiry import expire_holds
from ticketmania.jobs.key_purge import purge_idempotency_keys
from ticketmania.jobs.outbox_relay import (
    DirectPublisher,
    Publisher,
    QueuePublisher,
    relay_outbox,
)
from ticketmania.jobs.sales_report import (
    BucketWriter,
    FolderWriter,
    ReportWriter,
    sales_report,
)
from ticketmania.jobs.seat_reconciliation import reconcile_seats
from ticketmania.mail import mailbox_for
from ticketmania.settings import get_settings


@dataclass(frozen=True)
class JobInput:
    """What a run may be told: reconcile-seats' repair, sales-report's day."""

    repair: bool = False
    day: date | None = None
    # expire-holds: how long to keep settling holds as they end (0: once);
    # waiting-room-inlet: how long to keep stepping, each second (0: once).
    sweep_seconds: float = 0


@dataclass(frozen=True)
class Job:
    name: str
    # How often it runs: an EventBridge rate in template.yaml, and this many
    # seconds for `ticketmania serve`.
    every_seconds: int
    run: Callable[[JobInput], dict[str, Any]]


def _publisher() -> Publisher:
    settings = get_settings()
    if settings.notifications_queue_url:
        import boto3  # the Lambda runtime's; honours AWS_ENDPOINT_URL

        return QueuePublisher(boto3.client("sqs"), settings.notifications_queue_url)
    return DirectPublisher(mailbox_for(settings), settings.mail_from)


def _report_writer() -> ReportWriter:
    settings = get_settings()
    if settings.reports_bucket:
        import boto3

        return BucketWriter(boto3.client("s3"), settings.reports_bucket)
    return FolderWriter(
        settings.ticketmania_data_dir / "reports", echo_to_log=settings.is_sam_local
    )


def _recover_payments(now: datetime) -> int:
    """Ask the provider about the open payments of ended holds (none: no call,
    and the payment code is not even imported)."""
    from ticketmania.db import payments as payment_table

    with open_job_session() as session:
        if not payment_table.open_on_ended_holds(session, now=now):
            return 0
    from ticketmania.payments import get_provider
    from ticketmania.payments.settlement import recover_successes

    return recover_successes(
        open_job_session,
        get_provider(),
        max_seats_per_user=get_settings().max_seats_per_user_per_event,
        now=now,
    )


def _refund_pending() -> dict[str, int]:
    from ticketmania.db import payments as payment_table

    with open_job_session() as session:
        if not payment_table.has_refund_work(session):
            return {"refunded": 0}
    from ticketmania.payments import get_provider
    from ticketmania.payments.settlement import refund_pending

    return {"refunded": refund_pending(open_job_session, get_provider())}


def _yesterday() -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()


JOBS = {
    job.name: job
    for job in (
        Job(
            "relay-outbox",
            every_seconds=60,
            run=lambda given: relay_outbox(open_job_session, _publisher()),
        ),
        Job(
            "expire-holds",
            every_seconds=60,
            run=lambda given: expire_holds(
                open_job_session,
                get_cache(),
                offer_seconds=get_settings().waitlist_offer_seconds,
                sweep_seconds=given.sweep_seconds,
                before_settling=_recover_payments,
            ),
        ),
        Job(
            "refund-pending",
            every_seconds=60,
            run=lambda given: _refund_pending(),
        ),
        Job(
            "reconcile-seats",
            every_seconds=3600,
            run=lambda given: reconcile_seats(open_job_session, repair=given.repair),
        ),
        Job(
            "purge-idempotency-keys",
            every_seconds=86400,
            run=lambda given: purge_idempotency_keys(open_job_session),
        ),
        Job(
            "warm-cache",
            every_seconds=300,
            run=lambda given: warm_cache(
                open_job_session,
                get_cache(),
                ttl_seconds=get_settings().events_cache_ttl,
            ),
        ),
        Job(
            "waiting-room-inlet",
            every_seconds=60,
            run=lambda given: _waiting_room_inlet(given.sweep_seconds),
        ),
        Job(
            "sales-report",
            every_seconds=86400,
            run=lambda given: sales_report(
                open_job_session, _report_writer(), day=given.day or _yesterday()
            ),
        ),
    )
}


def _waiting_room_inlet(sweep_seconds: float) -> dict[str, Any]:
    from ticketmania.waiting_room.inlet import run_inlet

    return run_inlet(open_job_session, get_cache(), sweep_seconds=sweep_seconds)


def run_job(name: str, given: JobInput | None = None) -> dict[str, Any]:
    if name not in JOBS:
        raise KeyError(f"no job named {name!r}: one of {', '.join(JOBS)}")
    return JOBS[name].run(given or JobInput())
