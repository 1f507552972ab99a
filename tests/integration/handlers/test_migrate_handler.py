"""MigrateFunction, fed the CloudFormation custom-resource samples of events/:
it migrates on Create and Update, leaves the data alone on Delete, answers
FAILED when it cannot migrate, and two deploys at once both succeed."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.cloudformation import CloudFormation
from tests.conftest import ROOT
from tests.lambda_events import LambdaContext, load_event
from tests.services import find_postgres, free_port
from ticketmania.db.engine import build_engine, get_engine
from ticketmania.settings import get_settings


@pytest.fixture
def cloudformation():
    receiver = CloudFormation()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def handler():
    from migrate.app import handler

    return handler


def request(kind, cloudformation):
    event = load_event(f"cfn_migrate_{kind}")
    event["ResponseURL"] = cloudformation.url
    return event


def head_revision():
    with get_engine().connect() as connection:
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


@pytest.mark.parametrize("kind", ["create", "update"])
def test_create_and_update_migrate_and_answer_success(handler, cloudformation, kind):
    handler(request(kind, cloudformation), LambdaContext())
    (answer,) = cloudformation.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Revision": head_revision()}
    assert answer["PhysicalResourceId"] == "ticketmania-database-migrations"
    assert answer["RequestId"] == load_event(f"cfn_migrate_{kind}")["RequestId"]


def test_delete_leaves_the_data_alone(handler, cloudformation):
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (name, email, password_hash) VALUES ('K', 'k@x.com', 'x')"
            )
        )
    handler(request("delete", cloudformation), LambdaContext())
    assert cloudformation.answers[0]["Status"] == "SUCCESS"
    with get_engine().connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM users")) == 1


def test_an_unreachable_database_answers_failed(handler, cloudformation, monkeypatch):
    dead = build_engine(
        get_settings(), database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    )
    monkeypatch.setattr("ticketmania.db.engine.get_engine", lambda: dead)
    handler(request("update", cloudformation), LambdaContext())
    (answer,) = cloudformation.answers
    assert answer["Status"] == "FAILED"
    assert "postgres" not in answer["Reason"].lower()  # no driver message, no URL


_DEPLOY = """
import json, sys
from tests.lambda_events import LambdaContext
from migrate.app import handler

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "MigrateFunction"
handler(json.load(sys.stdin), LambdaContext())
"""


def test_two_deploys_at_once_both_migrate_a_new_database(cloudformation):
    # Two Lambda invocations are two processes, as here.
    database = find_postgres().create()
    try:
        environment = {
            **os.environ,
            "DATABASE_URL": database.url,
            "PYTHONPATH": os.pathsep.join(
                [
                    str(ROOT / "layers/shared"),
                    str(ROOT / "functions/migrate"),
                    str(ROOT),
                ]
            ),
        }
        deploys = [
            subprocess.Popen(
                [sys.executable, "-c", _DEPLOY],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                env=environment,
                text=True,
            )
            for _ in range(2)
        ]
        for deploy in deploys:
            deploy.communicate(
                json.dumps(request("create", cloudformation)), timeout=120
            )
        assert [answer["Status"] for answer in cloudformation.answers] == [
            "SUCCESS",
            "SUCCESS",
        ]
        revisions = {answer["Data"]["Revision"] for answer in cloudformation.answers}
        assert revisions == {head_revision()}
    finally:
        database.drop()


@pytest.mark.parametrize("kind", ["create", "update", "delete"])
def test_under_sam_local_a_sample_request_is_answered_in_the_log_not_sent(
    handler, monkeypatch, kind, caplog
):
    """`sam local invoke MigrateFunction -e events/cfn_migrate_create.json`: no
    CloudFormation waits for the answer, and nothing may leave the machine."""
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("nothing is sent under sam local")

    from ticketmania.observability import logger

    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    level = logger.log_level
    logger.setLevel("INFO")  # as the template sets it (the tests log WARNING)
    try:
        outcome = handler(load_event(f"cfn_migrate_{kind}"), LambdaContext())
    finally:
        logger.setLevel(level)
    assert outcome["Status"] == "SUCCESS"
    logged = [
        record.answer
        for record in caplog.records
        if record.getMessage() == "answer not sent under sam local"
    ]
    assert logged[0]["Status"] == "SUCCESS"


def test_no_sample_event_points_outside_the_machine():
    from urllib.parse import urlparse

    from tests.lambda_events import EVENTS

    for path in EVENTS.glob("*.json"):
        text_ = path.read_text()
        for word in text_.replace('"', " ").split():
            if word.startswith(("http://", "https://")):
                host = urlparse(word).hostname
                assert host in ("127.0.0.1", "localhost"), (path.name, word)
