"""Correct through a transaction pooler, and past the server's connection limit.

A surge puts a pooler (PgBouncer in transaction mode, RDS Proxy) between the
functions and Postgres: each transaction may run on any server connection, and
another client's statements ran on it just before. So nothing the functions
send may rely on, or leave, session state (docs/deploy.md): these tests run
every kind of statement, then look at what the server connection holds, and
make many containers share two server connections.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.factories import auth_header, create_event, user_token
from tests.integration.conftest import reset_cached_clients
from tests.services import PgBouncer
from ticketmania.db.engine import build_engine, pg8000_url
from ticketmania.db.statements import run_alone
from ticketmania.settings import get_settings


@pytest.fixture
def one_connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app on exactly one pooled connection, as a Lambda container is."""
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    reset_cached_clients()
    yield
    monkeypatch.undo()
    reset_cached_clients()


def test_no_statement_leaves_session_state_on_the_connection(
    client, admin, one_connection
):
    """Every kind of write and read, then the one connection that ran them all:
    no prepared statement, no parameter set for the session, no advisory lock,
    no temporary table, no cursor, no LISTEN."""
    from ticketmania.db.engine import get_engine
    from ticketmania.jobs import JOBS, run_job

    _, token = user_token(client)
    event = create_event(client, admin, total_seats=3)
    headers = auth_header(token)
    booked = client.post(
        "/bookings",
        json={"event_id": event["id"], "seats_booked": 1},
        headers={**headers, "Idempotency-Key": "k-1"},
    )
    assert booked.status_code == 201
    held = client.post(
        "/bookings",
        json={"event_id": event["id"], "seats_booked": 2, "hold": True},
        headers=headers,
    ).json()
    assert (
        client.post(f"/bookings/{held['id']}/extend", headers=headers).status_code
        == 200
    )
    assert (
        client.post(f"/bookings/{held['id']}/confirm", headers=headers).status_code
        == 200
    )
    _, other = user_token(client)
    waiting = client.post(
        f"/events/{event['id']}/waitlist", json={"seats": 1}, headers=auth_header(other)
    )
    assert waiting.status_code == 201
    assert (
        client.post(
            f"/bookings/{booked.json()['id']}/cancel", headers=headers
        ).status_code
        == 200
    )
    ticket = client.get(f"/bookings/{held['id']}/ticket", headers=headers).json()
    assert (
        client.post(
            "/checkins", json={"code": ticket["code"]}, headers=auth_header(admin)
        ).status_code
        == 200
    )
    assert (
        client.patch(
            f"/events/{event['id']}",
            json={"total_seats": 5},
            headers=auth_header(admin),
        ).status_code
        == 200
    )
    assert client.get("/events").status_code == 200
    assert (
        client.get(
            f"/events/{event['id']}/bookings", headers=auth_header(admin)
        ).status_code
        == 200
    )
    for name in JOBS:
        run_job(name)
    assert (
        client.delete(f"/events/{event['id']}", headers=auth_header(admin)).status_code
        == 204
    )

    raw = get_engine().raw_connection()
    try:
        driver = raw.dbapi_connection
        driver.autocommit = True
        rows = {
            "prepared statements": "SELECT name FROM pg_prepared_statements",
            "parameters set for the session": (
                "SELECT name FROM pg_settings WHERE source = 'session'"
            ),
            "advisory locks": (
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            ),
            "temporary tables": (
                "SELECT relname FROM pg_class WHERE relpersistence = 't'"
            ),
            "cursors": "SELECT name FROM pg_cursors",
            "channels listened to": "SELECT pg_listening_channels()",
        }
        found = {what: driver.run(sql) for what, sql in rows.items()}
        driver.autocommit = False
    finally:
        raw.close()
    assert found == {what: () for what in rows}, found


def container_engine(database_url: str):
    """One simulated Lambda container's engine: one connection, no overflow."""
    settings = get_settings().model_copy(update={"db_pool_size": 1})
    return build_engine(settings, database_url=database_url)


def test_containers_sharing_two_server_connections_each_run_their_own_statements(
    pooled_database_url,
):
    """Sixteen containers, each alternating two statements of its own, through
    a pooler with two server connections: each answer is the one its own
    statement gives. A statement cached on the server under a name (pg8000's
    `pg8000_statement_0`, the same in every container) would run another
    container's statement of that name."""
    engines = [container_engine(pooled_database_url) for _ in range(16)]
    barrier = threading.Barrier(len(engines), timeout=60)

    def container(number: int) -> list[tuple[int, int, str]]:
        session = Session(bind=engines[number])
        wrong = []
        barrier.wait()
        for round_ in range(60):
            first = run_alone(
                session,
                "SELECT CAST(:n AS int), 'first'",
                {"n": number * 1000 + round_},
            )
            second = run_alone(
                session, "SELECT CAST(:m AS int) * 2, 'second'", {"m": number}
            )
            if first != [[number * 1000 + round_, "first"]]:
                wrong.append((number, round_, repr(first)))
            if second != [[number * 2, "second"]]:
                wrong.append((number, round_, repr(second)))
        session.close()
        return wrong

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            wrong = [w for found in pool.map(container, range(16)) for w in found]
    finally:
        for engine in engines:
            engine.dispose()
    assert wrong == []


@pytest.fixture
def role_at_its_connection_limit(services) -> Iterator[str]:
    """A URL of a role the server lets in no more often than it already is:
    every connection it opens is refused as too many (53300), as every one past
    `max_connections` is."""
    import os

    url = make_url(os.environ["DATABASE_URL"])
    admin_url, connect_args = pg8000_url(os.environ["DATABASE_URL"])
    admin = create_engine(
        admin_url, connect_args=connect_args, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text("DROP ROLE IF EXISTS ticketmania_full"))
        password = url.password or "unused"
        connection.execute(
            text(
                "CREATE ROLE ticketmania_full LOGIN CONNECTION LIMIT 0 "
                f"PASSWORD '{password}'"
            )
        )
    yield url.set(username="ticketmania_full").render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text("DROP ROLE IF EXISTS ticketmania_full"))
    admin.dispose()


def test_a_server_with_no_connection_left_is_503_with_retry_after(
    client, admin, role_at_its_connection_limit, monkeypatch
):
    """Directly, far past max_connections, the server refuses the connection:
    every route answers 503 `unavailable` with Retry-After, never 500, and
    nothing is written."""
    event = create_event(client, admin)
    _, token = user_token(client)
    monkeypatch.setenv("DATABASE_URL", role_at_its_connection_limit)
    reset_cached_clients()
    try:
        answers = [
            client.post(
                "/bookings",
                json={"event_id": event["id"], "seats_booked": 1},
                headers={**auth_header(token), "Idempotency-Key": "full-1"},
            ),
            client.post(
                "/bookings",
                json={"event_id": event["id"], "seats_booked": 1, "hold": True},
                headers=auth_header(token),
            ),
            client.get(f"/events/{event['id']}"),
            client.get("/bookings/my", headers=auth_header(token)),
        ]
    finally:
        monkeypatch.undo()
        reset_cached_clients()
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert "ticketmania_full" not in response.text
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 50


def test_the_pooler_refuses_what_the_functions_must_not_send(pooler: PgBouncer):
    """The suite's pooler is as strict as a hosted one: a startup parameter
    (as the functions once sent their timeouts) is refused outright."""
    import pg8000

    with pytest.raises(pg8000.Error) as refused:
        pg8000.connect(
            user="postgres",
            host="127.0.0.1",
            port=pooler.port,
            database="postgres",
            startup_params={"statement_timeout": "5000"},
        )
    assert "unsupported startup parameter" in str(refused.value)
