"""Errors every route shares: oversized bodies, database errors and an exhausted
pool become clear 4xx/5xx JSON, and no value reaches a log or a response."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from tests.factories import DEFAULT_PASSWORD, auth_header, event_body
from ticketmania.db.engine import build_engine, get_engine
from ticketmania.settings import get_settings


def test_oversized_bodies_are_refused(client, admin):
    response = client.post(
        "/events", json=event_body(description="x" * 70_000), headers=auth_header(admin)
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_database_errors_are_logged_without_values(caplog):
    from ticketmania.web.error_handlers import _on_database_error

    with pytest.raises(DBAPIError) as caught, get_engine().connect() as connection:
        connection.execute(
            text("SELECT CAST(:value AS integer) FROM pg_sleep(0)"),
            {"value": "hunter2-secret"},
        )
    error = caught.value
    error.orig.args[0]["C"] = "XX000"  # an error with no mapping: logged as a bug
    # A loop of its own: asyncio.run would replace (and orphan) this thread's loop.
    loop = asyncio.new_event_loop()
    try:
        response = loop.run_until_complete(_on_database_error(None, error))
    finally:
        loop.close()
    assert response.status_code == 500
    logged = " ".join(
        f"{record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    assert "XX000" in logged
    assert "hunter2-secret" not in logged
    assert "hunter2-secret" not in response.body.decode()


def test_an_exhausted_connection_pool_is_a_503(client, monkeypatch):
    settings = get_settings().model_copy(
        update={"db_pool_size": 1, "db_connect_timeout_seconds": 0.2}
    )
    monkeypatch.setenv(
        "AWS_LAMBDA_FUNCTION_NAME", "pool-test"
    )  # no overflow, as in Lambda
    engine = build_engine(settings)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.setattr(
        "ticketmania.db.engine._session_factory", lambda: sessionmaker(bind=engine)
    )
    held = engine.connect()
    try:
        response = client.post(
            "/auth/signup",
            json={"name": "A", "email": "p@example.com", "password": DEFAULT_PASSWORD},
        )
        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
        assert "Retry-After" in response.headers
    finally:
        held.close()
        engine.dispose()
