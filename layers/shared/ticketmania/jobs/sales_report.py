"""sales-report: one CSV for a day: per event, the seats sold and the
cancellations that day; the seats left (total - confirmed - live holds), held
by live holds, asked for by the waitlist and checked in at the door when the
report ran; and the seats of holds that ended that day unconfirmed. Each
event's row is followed by one row per ticket type (`ticket_type_id` and
`ticket_type` set, the event-wide columns empty): its seats sold and the
orders with it cancelled that day. `revenue_minor` is the gross of the seats
sold that day at the unit prices they were sold at, in the event's
`currency`'s minor units (later cancellations do not take it back: they are
counted apart).

A hold counts as sold once it is confirmed (on the day it was made, as every
booking does); one released or ended does not. Written to the S3 bucket
REPORTS_BUCKET names, or else to reports/ in the data folder, as
sales-YYYY-MM-DD.csv: running it again for the same day writes the same file
again (but for the figures "when the report ran").
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text

from ticketmania.db.engine import SessionOpener
from ticketmania.observability import logger

COLUMNS = (
    "event_id",
    "title",
    "event_date",
    "seats_sold",
    "cancellations",
    "seats_left",
    "seats_held",
    "seats_expired",
    "seats_waitlisted",
    "seats_checked_in",
    "ticket_type_id",
    "ticket_type",
    "currency",
    "revenue_minor",
)

_DAY = text(
    """
    SELECT e.id, e.title, e.event_date,
           -- A booking, or a hold once confirmed (confirming clears its end).
           coalesce(sum(b.seats_booked) FILTER (
             WHERE b.created_at >= :start AND b.created_at < :end
               AND b.expires_at IS NULL), 0),
           count(b.id) FILTER (WHERE b.cancelled_at >= :start AND b.cancelled_at < :end
                               AND b.expires_at IS NULL),
           (SELECT coalesce(sum(available), 0) FROM seat_shards AS s WHERE s.event_id = e.id)
             + coalesce(sum(b.seats_booked) FILTER (
                 WHERE b.status = 'held' AND b.expires_at <= :ran_at), 0),
           coalesce(sum(b.seats_booked) FILTER (
             WHERE b.status = 'held' AND b.expires_at > :ran_at), 0),
           coalesce(sum(b.seats_booked) FILTER (
             WHERE b.status IN ('held', 'expired')
               AND b.expires_at >= :start AND b.expires_at < :end
               AND b.expires_at <= :ran_at), 0),
           (SELECT coalesce(sum(w.seats), 0) FROM waitlist_entries AS w
            WHERE w.event_id = e.id AND w.status = 'waiting'),
           (SELECT coalesce(sum(c.seats), 0) FROM checkins AS c WHERE c.event_id = e.id),
           e.currency,
           coalesce(sum(b.total_minor) FILTER (
             WHERE b.created_at >= :start AND b.created_at < :end
               AND b.expires_at IS NULL), 0)
    FROM events AS e
    LEFT JOIN bookings AS b ON b.event_id = e.id
    WHERE e.created_at < :end AND (e.cancelled_at IS NULL OR e.cancelled_at >= :start)
    GROUP BY e.id
    ORDER BY e.id
    """
)


_TYPES_OF_DAY = text(
    """
    SELECT t.event_id, t.id, t.name,
           coalesce(sum(l.quantity) FILTER (
             WHERE b.created_at >= :start AND b.created_at < :end
               AND b.expires_at IS NULL), 0),
           count(b.id) FILTER (WHERE b.cancelled_at >= :start AND b.cancelled_at < :end
                               AND b.expires_at IS NULL),
           coalesce(sum(l.quantity * l.unit_price_minor) FILTER (
             WHERE b.created_at >= :start AND b.created_at < :end
               AND b.expires_at IS NULL), 0)
    FROM ticket_types AS t
    LEFT JOIN order_lines AS l ON l.ticket_type_id = t.id
    LEFT JOIN bookings AS b ON b.id = l.booking_id
    WHERE t.event_id = ANY(CAST(:event_ids AS bigint[]))
      AND (t.deleted_at IS NULL OR b.id IS NOT NULL)
    GROUP BY t.event_id, t.id, t.name, t.position
    ORDER BY t.event_id, t.position, t.id
    """
)


class ReportWriter(Protocol):
    def write(self, name: str, content: bytes) -> str:
        """Store the report; where it went."""
        ...


class FolderWriter:
    """A report a file in `folder`; with `echo_to_log`, also whole in the log
    (under `sam local`, whose container and its files are gone afterwards)."""

    def __init__(self, folder: Path, *, echo_to_log: bool = False) -> None:
        self.folder = folder
        self.echo_to_log = echo_to_log

    def write(self, name: str, content: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        path.write_bytes(content)
        if self.echo_to_log:
            logger.info(
                "report written", extra={"file": name, "report": content.decode()}
            )
        return str(path)


class BucketWriter:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def write(self, name: str, content: bytes) -> str:
        key = f"reports/{name}"
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=content, ContentType="text/csv"
        )
        return f"s3://{self.bucket}/{key}"


def report_rows(open_session: SessionOpener, day: date) -> list[tuple[Any, ...]]:
    """Each event's row, then its types' rows, as the CSV has them."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    window = {"start": start, "end": start + timedelta(days=1)}
    with open_session() as session:
        events = session.execute(_DAY, {**window, "ran_at": datetime.now(UTC)}).all()
        types = session.execute(
            _TYPES_OF_DAY, {**window, "event_ids": [row[0] for row in events]}
        ).all()
    types_of: dict[int, list[Any]] = {}
    for row in types:
        types_of.setdefault(row[0], []).append(row)
    rows: list[tuple[Any, ...]] = []
    for event_id, title, event_date, *figures, currency, revenue in events:
        when = event_date.isoformat()
        rows.append((event_id, title, when, *figures, "", "", currency, revenue))
        for _, type_id, name, sold, cancellations, type_revenue in types_of.get(
            event_id, []
        ):
            blanks = ("",) * (len(figures) - 2)
            type_figures = (sold, cancellations, *blanks)
            rows.append(
                (
                    event_id,
                    title,
                    when,
                    *type_figures,
                    type_id,
                    name,
                    currency,
                    type_revenue,
                )
            )
    return rows


def sales_report(
    open_session: SessionOpener, writer: ReportWriter, *, day: date
) -> dict[str, object]:
    rows = report_rows(open_session, day)
    buffer = io.StringIO()
    table = csv.writer(buffer, lineterminator="\n")
    table.writerow(COLUMNS)
    table.writerows(rows)
    location = writer.write(f"sales-{day.isoformat()}.csv", buffer.getvalue().encode())
    events = sum(1 for row in rows if row[-4] == "")
    return {"day": day.isoformat(), "events": events, "location": location}
