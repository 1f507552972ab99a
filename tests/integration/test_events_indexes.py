"""The listing's queries stay on indexes with 100,000 events."""

import json

import pytest
from sqlalchemy import text

from tests.factories import loading_connection
from ticketmania.db.engine import get_engine
from ticketmania.db.events import EventFilter, list_query

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def many_events():
    with loading_connection() as connection:
        connection.execute(
            text(
                "INSERT INTO events (title, description, location, event_date, total_seats, created_at) "
                "SELECT 'Event ' || n, 'Description ' || n, 'City ' || (n % 500), "
                "       now() + (n || ' minutes')::interval, 100, now() - (n || ' seconds')::interval "
                "FROM generate_series(1, 100000) AS n"
            )
        )
        connection.execute(
            text("UPDATE events SET cancelled_at = now() WHERE id % 50 = 0")
        )
        connection.execute(
            text("UPDATE events SET location = 'Reykjavik, Harpa' WHERE id % 10000 = 1")
        )
        # Fresh statistics for every table the listing reads (available_seats
        # sums seat_shards and ended holds in bookings): stale ones left by earlier
        # tests, or before autovacuum's next pass, changed the plan in one of two
        # fresh-clone runs. Every row sampled, so the estimates are the same each run.
        connection.execute(text("SET LOCAL default_statistics_target = 10000"))
        connection.execute(text("ANALYZE events, seat_shards, bookings"))
    has_trigram = _has_trigram_indexes()
    return has_trigram


def _has_trigram_indexes():
    with get_engine().connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_events_title_trgm'"
                )
            )
        )


def plan_of(where, *, sort="event_date", limit=20, offset=0):
    statement = list_query(where, sort=sort, limit=limit, offset=offset)
    compiled = statement.compile(get_engine(), compile_kwargs={"literal_binds": True})
    with get_engine().connect() as connection:
        plan = connection.scalar(text(f"EXPLAIN (FORMAT JSON) {compiled}"))
    return json.dumps(plan if not isinstance(plan, str) else json.loads(plan))


def uses_index(plan, name):
    return f'"Index Name": "{name}"' in plan


SORT_INDEXES = {
    "event_date": "ix_events_active_date",
    "-event_date": "ix_events_active_date",
    "title": "ix_events_active_title",
    "-created_at": "ix_events_active_created",
}


def test_each_sort_reads_its_index(many_events):
    # One test for all sorts: building 100,000 rows is the slow part.
    for sort, index in SORT_INDEXES.items():
        assert uses_index(plan_of(EventFilter(), sort=sort), index), sort
        assert uses_index(plan_of(EventFilter(), sort=sort, offset=5000), index), sort


def test_text_search_uses_trigram_indexes_where_available(many_events):
    if not many_events:
        pytest.skip("pg_trgm is not available on this Postgres")
    plan = plan_of(EventFilter(q="event 4242"))
    assert uses_index(plan, "ix_events_title_trgm") and uses_index(
        plan, "ix_events_description_trgm"
    )
    assert uses_index(plan_of(EventFilter(location="harpa")), "ix_events_location_trgm")
