"""AdminJobsFunction's handler fed each schedule sample of events/, twice."""

import pytest

from tests.lambda_events import LambdaContext, load_event
from ticketmania.jobs import JOBS


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
