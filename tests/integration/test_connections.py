"""Stale pooled connections cost no ping per request: one the server has hung
up on (a terminated backend, a restart) is found by a poll of its socket before
anything is sent, and one idle long enough (a thawed Lambda container's) is
pinged before use. Either way the request runs on a fresh connection."""

import time

import pg8000
import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from tests.factories import auth_header, book, create_event, make_admin, user_token
from ticketmania.db.engine import build_engine, get_engine
from ticketmania.settings import get_settings


@pytest.fixture
def one_connection_engine(monkeypatch):
    """The app on a pool of one connection (as in Lambda), pinged after `idle` s."""
    engines = []

    def install(*, idle):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pool-test")  # no overflow
        engine = build_engine(
            get_settings().model_copy(
                update={"db_pool_size": 1, "db_idle_ping_seconds": idle}
            )
        )
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        monkeypatch.setattr(
            "ticketmania.db.engine._session_factory",
            lambda: sessionmaker(bind=engine, expire_on_commit=False),
        )
        engines.append(engine)
        return engine

    yield install
    for engine in engines:
        engine.dispose()


def terminate_pooled_connection(engine):
    """End the pool's connection from the server's side, and return once its
    backend has exited (so its goodbye is on the socket), however long a busy
    machine makes it take: the timeout form waits for that, where a fixed sleep
    could be too short."""
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    with get_engine().connect() as connection:
        ended = connection.scalar(
            text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}
        )
    assert ended, "the backend did not exit within 10 s"


@pytest.fixture
def pings(monkeypatch):
    """Every ping the pool sends (a ";" run on the driver)."""
    sent = []
    run = pg8000.legacy.Connection.run

    def recording_run(connection, sql, *args, **kwargs):
        if sql == ";":
            sent.append(sql)
        return run(connection, sql, *args, **kwargs)

    monkeypatch.setattr(pg8000.legacy.Connection, "run", recording_run)
    return sent


def test_a_warm_connection_is_not_pinged(client, one_connection_engine, pings):
    one_connection_engine(idle=60)
    admin = make_admin(client)[1]
    event = create_event(client, admin)
    for _ in range(3):
        assert client.get(f"/events/{event['id']}").status_code == 200
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged(
    client, one_connection_engine, pings
):
    one_connection_engine(idle=0.2)
    admin = make_admin(client)[1]
    event = create_event(client, admin)
    assert client.get(f"/events/{event['id']}").status_code == 200
    pings.clear()  # a busy machine may have paused past 0.2 s while setting up
    time.sleep(0.3)
    assert client.get(f"/events/{event['id']}").status_code == 200
    assert pings == [";"]


def test_a_booking_on_a_connection_the_server_ended_gets_a_fresh_one(
    client, one_connection_engine
):
    engine = one_connection_engine(idle=60)
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    assert book(client, token, event["id"], 1).status_code == 201
    terminate_pooled_connection(engine)
    response = book(client, token, event["id"], 1)
    assert response.status_code == 201, response.text
    mine = client.get("/bookings/my", headers=auth_header(token)).json()
    assert len(mine) == 2  # booked once, not twice


def test_a_read_on_a_connection_the_server_ended_gets_a_fresh_one(
    client, one_connection_engine
):
    engine = one_connection_engine(idle=60)
    admin = make_admin(client)[1]
    event = create_event(client, admin)
    terminate_pooled_connection(engine)
    assert client.get(f"/events/{event['id']}").status_code == 200
