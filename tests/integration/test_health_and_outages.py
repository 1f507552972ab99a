"""Health, and what clients see when Postgres or Redis cannot be reached."""

import pytest
from sqlalchemy.orm import sessionmaker

from tests.factories import signup
from tests.services import free_port
from ticketmania.db.engine import build_engine
from ticketmania.settings import get_settings


@pytest.fixture
def dead_database(monkeypatch):
    """Point the app at a port where no Postgres listens: a real refused connection."""
    engine = build_engine(
        get_settings(),
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
    )
    monkeypatch.setattr("ticketmania.web.health.get_engine", lambda: engine)
    monkeypatch.setattr(
        "ticketmania.db.engine._session_factory", lambda: sessionmaker(bind=engine)
    )
    yield
    engine.dispose()


def test_health_reports_database_and_cache(client):
    assert client.get("/health").json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
    }


def test_health_is_503_when_the_database_is_down(client, dead_database):
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_routes_answer_503_unavailable_when_the_database_is_down(client, dead_database):
    response = client.post(
        "/auth/signup",
        json={"name": "Ada", "email": "a@example.com", "password": "long enough"},
    )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "unavailable"
    assert "Retry-After" in response.headers
    # Nothing of the driver's message or the connection string reaches the client.
    assert (
        "127.0.0.1" not in response.text
        and "pg8000" not in response.text
        and "postgres" not in response.text
    )


def test_health_says_cache_down_when_redis_is_unreachable(client, monkeypatch):
    from ticketmania.cache import Cache, build_redis

    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("ticketmania.web.health.get_cache", lambda: dead)
    assert client.get("/health").json() == {
        "status": "ok",
        "database": "ok",
        "cache": "down",
    }


def test_health_says_cache_disabled_without_redis_url(client, monkeypatch):
    from ticketmania.cache import Cache

    monkeypatch.setattr(
        "ticketmania.web.health.get_cache", lambda: Cache(None, breaker_seconds=5)
    )
    assert client.get("/health").json()["cache"] == "disabled"


def test_cache_breaker_skips_redis_after_a_failure():
    from ticketmania.cache import Cache, build_redis

    now = [100.0]
    calls = []
    cache = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
        clock=lambda: now[0],
    )

    def operation(client):
        calls.append(1)
        return client.get("x")

    assert cache.call(operation, "fallback") == "fallback"
    assert cache.is_open
    assert cache.call(operation, "fallback") == "fallback"
    assert len(calls) == 1  # the second call never touched Redis
    now[0] += 6
    assert not cache.is_open


def test_a_user_row_is_written_whole_or_not_at_all(client):
    signup(client, email="dup@example.com")
    response = client.post(
        "/auth/signup",
        json={"name": "Other", "email": "DUP@example.com", "password": "long enough"},
    )
    assert response.status_code == 409
    from sqlalchemy import func, select

    from ticketmania.db.engine import open_session
    from ticketmania.db.models import User

    with open_session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
