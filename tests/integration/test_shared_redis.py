"""Two deployments on one Redis database never meet: two `ticketmania serve`, each
on a database of its own, one Redis between them. Before every key carried its
deployment's prefix, the second listed the first's events from the cache,
refused its bookings with the other's sold-out marker, and counted its users'
requests and logins together with the other's."""

import os
import signal
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests import services
from tests.factories import DEFAULT_PASSWORD, event_body
from tests.integration.test_cli import run_cli, serve_one_worker, wait_for_health
from tests.services import free_port


@contextmanager
def server(database_url, tmp_path, name):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "REDIS_KEY_PREFIX"},
        "DATABASE_URL": database_url,
        "TICKETMANIA_DATA_DIR": str(tmp_path / name),
        "RATE_LIMIT_BOOKING": "3/minute",
        "LOGIN_MAX_FAILURES": "2",
    }
    with serve_one_worker(port, env) as process:
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base_url, process)
            with httpx.Client(base_url=base_url, timeout=30) as http:
                yield http, env
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


@pytest.fixture
def second_database():
    server_url = (
        make_url(os.environ["DATABASE_URL"])
        .set(database="postgres")
        .render_as_string(hide_password=False)
    )
    database = services.TestDatabase(server_url).create()
    yield database.url
    database.drop()


def admin_and_user(http, env):
    email = "boss@example.com"
    created = run_cli(
        "create-admin", "--email", email, "--password", DEFAULT_PASSWORD, env=env
    )
    assert created.returncode == 0, created.stderr
    admin = login(http, email)
    user = {"name": "U", "email": "same@example.com", "password": DEFAULT_PASSWORD}
    assert http.post("/auth/signup", json=user).status_code == 201
    return admin, login(http, user["email"])


def login(http, email, password=DEFAULT_PASSWORD):
    response = http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_two_servers_on_one_redis_share_no_key(tmp_path, second_database):
    with ExitStack() as stack:
        a, a_env = stack.enter_context(
            server(os.environ["DATABASE_URL"], tmp_path, "a")
        )
        b, b_env = stack.enter_context(server(second_database, tmp_path, "b"))
        a_admin, a_user = admin_and_user(a, a_env)
        b_admin, b_user = admin_and_user(b, b_env)
        a_event = a.post(
            "/events", json=event_body(title="Only on A"), headers=a_admin
        ).json()
        b_event = b.post(
            "/events",
            json=event_body(title="Only on B", total_seats=1),
            headers=b_admin,
        ).json()
        assert a_event["id"] == b_event["id"]  # the same id, in two databases

        # Listings: each its own, though both are cached.
        assert [e["title"] for e in a.get("/events").json()] == ["Only on A"]
        assert [e["title"] for e in b.get("/events").json()] == ["Only on B"]
        assert [e["title"] for e in a.get("/events").json()] == ["Only on A"]

        # The sold-out marker: B's event sells out; A's, of the same id, does not.
        booking = {"event_id": b_event["id"], "seats_booked": 1}
        assert b.post("/bookings", json=booking, headers=b_user).status_code == 201
        refused = b.post("/bookings", json=booking, headers=b_user)
        assert refused.json()["code"] == "sold_out"
        on_a = a.post("/bookings", json=booking, headers=a_user)
        assert on_a.status_code == 201, on_a.text

        # Rate limits: A's user (the same id as B's) has spent one of three.
        assert on_a.headers["RateLimit-Remaining"] == "2"

        # The login throttle: failures on A do not lock the address out on B.
        for _ in range(3):
            a.post(
                "/auth/login",
                json={"email": "same@example.com", "password": "wrong password"},
            )
        locked = a.post(
            "/auth/login",
            json={"email": "same@example.com", "password": DEFAULT_PASSWORD},
        )
        assert locked.status_code == 429
        assert login(b, "same@example.com")
