"""AdminJobsFunction's handler fed each schedule sample of events/, twice."""

import pytest

from tests.lambda_events import LambdaContext, load_event
from ticketmania.jobs import JOBS

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "AdminJobsFunction"


@pytest.fixture(scope="module")
def handler():
    from admin.jobs import handler

    return handler


@pytest.mark.parametrize("job", sorted(JOBS))
def test_each_schedule_sample_runs_its_job(handler, job):
    sample = load_event(f"schedule_{job.replace('-', '_')}")
    first = handler(sample, LambdaContext())
    second = handler(sample, LambdaContext())
    assert first["job"] == second["job"] == job


def test_an_unknown_job_fails_the_invocation(handler):
    with pytest.raises(KeyError):
        handler({"job": "make-coffee"}, LambdaContext())


def test_reconcile_repairs_only_when_the_input_says_so(handler):
    sample = load_event("schedule_reconcile_seats")
    assert handler(sample, LambdaContext())["repaired"] == 0
    assert handler({**sample, "repair": True}, LambdaContext())["repaired"] == 0


def test_the_relay_sends_waiting_messages_on_the_containers_one_connection(
    handler, client
):
    """No queue (as under `sam local`): the relay hands each message straight to
    the notifier, on the one connection a container has. It used to hold that
    connection while the notifier waited for a second: 5 s a message, none sent."""
    from tests.factories import book, create_event, make_admin, user_token
    from ticketmania.db.engine import get_engine
    from ticketmania.settings import get_settings

    assert get_engine().pool.size() == 1
    assert get_settings().notifications_queue_url == ""
    admin = make_admin(client)[1]
    event = create_event(client, admin)
    _, token = user_token(client)
    for _ in range(2):
        assert book(client, token, event["id"], 1).status_code == 201
    outcome = handler(load_event("schedule_relay_outbox"), LambdaContext())
    assert (outcome["published"], outcome["failed"], outcome["left"]) == (2, 0, 0)
    mail = get_settings().ticketmania_data_dir / "mail"
    assert len(list(mail.glob("*.eml"))) == 2


def test_every_job_runs_on_one_connection_with_work_to_do(handler, client):
    """Each schedule's job with something to do (bookings, a cancellation, a
    drift, listings to warm, a day to report), on the container's one connection."""
    from datetime import UTC, datetime

    from tests.factories import (
        book,
        create_event,
        make_admin,
        take_seats_directly,
        user_token,
    )
    from ticketmania.db.engine import get_engine

    assert get_engine().pool.size() == 1
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=30)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 2).json()
    client.post(
        f"/bookings/{booking['id']}/cancel",
        headers={"Authorization": f"Bearer {token}"},
    )
    book(client, token, event["id"], 1)
    take_seats_directly(event["id"], 1)  # a drift for reconcile-seats
    today = datetime.now(UTC).date().isoformat()
    outcomes = {
        job: handler(
            {**load_event(f"schedule_{job.replace('-', '_')}"), "date": today},
            LambdaContext(),
        )
        for job in sorted(JOBS)
    }
    assert outcomes["relay-outbox"]["published"] == 3
    assert len(outcomes["reconcile-seats"]["drifts"]) == 1
    repaired = handler(
        {**load_event("schedule_reconcile_seats"), "repair": True}, LambdaContext()
    )
    assert repaired["repaired"] == 1
    assert outcomes["warm-cache"]
    assert outcomes["sales-report"]
