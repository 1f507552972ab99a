"""Each built function, run as Lambda runs it (a fresh `python3.12 -I` with only
its build folder and the layer on the path: the repository is not importable),
answers its events/ samples against the real Postgres and Redis. A dependency
missing from the layer fails here, not in AWS."""

import json
import os
import subprocess

import pytest

from localdev.template import read_functions
from tests.cloudformation import CloudFormation
from tests.conftest import ROOT
from tests.factories import book, create_event, login, make_admin, signup, unique_email
from tests.lambda_events import load_event, with_overrides
from tests.sam import python312_dir

pytestmark = pytest.mark.packaging

FUNCTIONS = {spec.name: spec for spec in read_functions(ROOT / "template.yaml")}


def run_built(built_artefact, function, events):
    return [
        (answer["statusCode"], answer.get("body"))
        for answer in run_built_raw(built_artefact, function, events)
    ]


def run_built_raw(built_artefact, function, events):
    result = subprocess.run(
        [
            f"{python312_dir()}/python3.12",
            "-I",
            "-S",
            "-B",
            str(ROOT / "scripts" / "invoke_built_function.py"),
            str(built_artefact),
            function,
            FUNCTIONS[function].module,
        ],
        input=json.dumps(events),
        env={
            **os.environ,
            "POWERTOOLS_SERVICE_NAME": function,
            "LAMBDA_LAYERS": ",".join(FUNCTIONS[function].layers),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["loaded_from_site_packages"] == []
    return report["answers"]


@pytest.fixture
def people(client):
    _, admin = make_admin(client)
    user = signup(client)
    token = login(client, user["email"])
    event = create_event(client, admin, total_seats=20)
    doomed = create_event(client, admin, total_seats=5)
    booking = book(client, token, event["id"], 1).json()
    return {
        "admin": admin,
        "token": token,
        "event": str(event["id"]),
        "doomed": str(doomed["id"]),
        "booking": str(booking["id"]),
    }


def test_auth_function_answers_its_samples(built_artefact, people):
    email = unique_email("built")
    samples = [
        (load_event("http_api_health"), 200),
        (
            with_overrides(
                load_event("http_api_auth_signup"),
                body={"name": "Built", "email": email, "password": "built password"},
            ),
            201,
        ),
        (
            with_overrides(
                load_event("http_api_auth_login"),
                body={"email": email, "password": "built password"},
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_auth_login_form"),
                body=f"username={email}&password=built+password",
            ),
            200,
        ),
        (with_overrides(load_event("http_api_auth_me"), token=people["token"]), 200),
        (
            with_overrides(
                load_event("http_api_auth_password"),
                token=people["admin"],
                body={"current_password": "wrong password", "new_password": "x" * 12},
            ),
            403,
        ),
    ]
    answers = run_built(built_artefact, "AuthFunction", [event for event, _ in samples])
    assert [status for status, _ in answers] == [status for _, status in samples], (
        answers
    )


def test_events_function_answers_its_samples(built_artefact, people):
    event = {"id": people["event"]}
    samples = [
        (load_event("http_api_events_list"), 200),
        (with_overrides(load_event("http_api_events_get"), path_parameters=event), 200),
        (
            with_overrides(load_event("http_api_events_create"), token=people["admin"]),
            201,
        ),
        (
            with_overrides(
                load_event("http_api_events_update"),
                token=people["admin"],
                path_parameters=event,
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_events_cancel"),
                token=people["admin"],
                path_parameters={"id": people["doomed"]},
            ),
            204,
        ),
    ]
    answers = run_built(built_artefact, "EventsFunction", [e for e, _ in samples])
    assert [status for status, _ in answers] == [status for _, status in samples], (
        answers
    )


def test_bookings_function_answers_its_samples(built_artefact, people):
    samples = [
        (
            with_overrides(
                load_event("http_api_bookings_create"),
                token=people["token"],
                body={"event_id": int(people["event"]), "seats_booked": 2},
            ),
            201,
        ),
        (
            with_overrides(load_event("http_api_bookings_my"), token=people["token"]),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_bookings_get"),
                token=people["token"],
                path_parameters={"id": people["booking"]},
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_bookings_cancel"),
                token=people["token"],
                path_parameters={"id": people["booking"]},
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_events_bookings"),
                token=people["admin"],
                path_parameters={"id": people["event"]},
            ),
            200,
        ),
    ]
    answers = run_built(built_artefact, "BookingsFunction", [e for e, _ in samples])
    assert [status for status, _ in answers] == [status for _, status in samples], (
        answers
    )


def test_migrate_function_answers_cloudformation(built_artefact):
    receiver = CloudFormation()
    try:
        events = []
        for kind in ("create", "update", "delete"):
            event = load_event(f"cfn_migrate_{kind}")
            event["ResponseURL"] = receiver.url
            events.append(event)
        result = subprocess.run(
            [
                f"{python312_dir()}/python3.12",
                "-I",
                "-S",
                "-B",
                str(ROOT / "scripts" / "invoke_built_function.py"),
                str(built_artefact),
                "MigrateFunction",
                FUNCTIONS["MigrateFunction"].module,
            ],
            input=json.dumps(events),
            env={**os.environ, "POWERTOOLS_SERVICE_NAME": "migrate"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert [answer["Status"] for answer in receiver.answers] == ["SUCCESS"] * 3
    finally:
        receiver.close()


def test_admin_jobs_function_runs_every_schedule_sample(built_artefact, people):
    samples = [
        json.loads(path.read_text())
        for path in sorted((ROOT / "events").glob("schedule_*.json"))
    ]
    answers = run_built_raw(built_artefact, "AdminJobsFunction", samples)
    assert sorted(answer["job"] for answer in answers) == sorted(
        sample["job"] for sample in samples
    )


def test_notifications_function_answers_its_sqs_sample(built_artefact, people):
    answers = run_built_raw(
        built_artefact, "NotificationsFunction", [load_event("sqs_notifications")]
    )
    assert answers == [{"batchItemFailures": []}]


def test_tickets_function_answers_its_samples(built_artefact, people):
    """With TicketsLayer (cryptography, segno) beside SharedLayer, as deployed."""
    samples = [
        (load_event("http_api_tickets_keys"), 200),
        (
            with_overrides(
                load_event("http_api_tickets_ticket"),
                token=people["token"],
                path_parameters={"id": people["booking"]},
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_tickets_ticket_png"),
                token=people["token"],
                path_parameters={"id": people["booking"]},
            ),
            200,
        ),
        (
            with_overrides(
                load_event("http_api_tickets_event_checkins"),
                token=people["admin"],
                path_parameters={"id": people["event"]},
            ),
            200,
        ),
    ]
    answers = run_built(built_artefact, "TicketsFunction", [e for e, _ in samples])
    assert [status for status, _ in answers] == [status for _, status in samples], (
        answers
    )
    code = json.loads(answers[1][1])["code"]
    check_in = with_overrides(
        load_event("http_api_tickets_checkin"),
        token=people["admin"],
        body={"code": code, "event_id": int(people["event"])},
    )
    (admitted,) = run_built(built_artefact, "TicketsFunction", [check_in])
    assert admitted[0] == 200, admitted
