"""Powertools' service name and metrics namespace are set before anything builds
a Logger or Metrics: locally by the `ticketmania` command (serve with one
worker or many, job), in Lambda by template.yaml. Without a namespace,
Powertools' 100th value of a metric flushed itself and raised, after the
request or the message it counted had been committed."""

import json
import os
import signal
import subprocess
import sys

import httpx
from sqlalchemy import text

from tests.conftest import ROOT
from tests.factories import auth_header, book, create_event, user_token
from tests.integration.test_cli import run_cli, serve_one_worker, wait_for_health
from tests.services import free_port
from ticketmania.db.engine import get_engine
from ticketmania.settings import get_settings

POWERTOOLS_NAMES = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")


def environment_without_powertools_names(**extra):
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in POWERTOOLS_NAMES
    }
    return {**environment, **extra}


def test_serve_with_one_worker_books_150_times(client, admin, tmp_path):
    event = create_event(client, admin, total_seats=1000)
    _, token = user_token(client)
    port = free_port()
    env = environment_without_powertools_names(
        TICKETMANIA_DATA_DIR=str(tmp_path), MAX_SEATS_PER_USER_PER_EVENT="1000"
    )
    with serve_one_worker(port, env) as process:
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_health(base_url, process)
            with httpx.Client(base_url=base_url, timeout=30) as http:
                statuses = [
                    http.post(
                        "/bookings",
                        json={"event_id": event["id"], "seats_booked": 1},
                        headers=auth_header(token),
                    ).status_code
                    for _ in range(150)
                ]
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
    assert statuses == [201] * 150
    with get_engine().connect() as connection:
        booked = connection.scalar(
            text("SELECT count(*) FROM bookings WHERE event_id = :id"),
            {"id": event["id"]},
        )
    assert booked == 150


def test_the_relay_job_publishes_250_messages(client, admin, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "max_seats_per_user_per_event", 1000)
    event = create_event(client, admin, total_seats=1000)
    _, token = user_token(client)
    for _ in range(250):
        assert book(client, token, event["id"], 1).status_code == 201
    result = run_cli(
        "job",
        "relay-outbox",
        timeout=300,
        environment=environment_without_powertools_names(
            TICKETMANIA_DATA_DIR=str(tmp_path)
        ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert (outcome["published"], outcome["failed"], outcome["left"]) == (250, 0, 0)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 250
    # Its logs name the service, not Powertools' "service_undefined".
    assert "service_undefined" not in result.stdout + result.stderr


def test_a_function_without_its_powertools_names_fails_its_cold_start_in_one_line():
    environment = environment_without_powertools_names(
        AWS_LAMBDA_FUNCTION_NAME="TicketManiaBookings",
        PYTHONPATH=os.pathsep.join(
            [str(ROOT / "layers/shared"), str(ROOT / "functions/bookings")]
        ),
    )
    result = subprocess.run(
        [sys.executable, "-c", "import bookings.app"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ticketmania.settings.ConfigurationError:"), last_line
    assert "POWERTOOLS_SERVICE_NAME" in last_line
    assert "POWERTOOLS_METRICS_NAMESPACE" in last_line
