"""Test session: a fresh database on a real Postgres and a private Redis, for every test tier.

The environment is set in pytest_configure, before any function app is
imported, because each app validates its settings as it loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.services import RedisServer, TestDatabase, find_postgres, find_redis

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"

_database: TestDatabase | None = None
_redis_server: RedisServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _database, _redis_server
    if hasattr(config, "workerinput"):
        return
    try:
        _database = find_postgres().create()
        redis_url, _redis_server = find_redis()
    except Exception as exc:  # one clear line instead of a wall of errors
        pytest.exit(
            f"test services unavailable: {exc} (run `make services`)", returncode=3
        )
    os.environ.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": _database.url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "TicketManiaTest",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    os.environ.pop("SECRET_KEY_PARAMETER", None)
    os.environ.pop("SECRET_KEY_SECRET_ID", None)
    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import upgrade_to_head

    upgrade_to_head(get_engine())


def pytest_unconfigure(config: pytest.Config) -> None:
    from ticketmania.db.engine import get_engine

    get_engine().dispose()
    if _database is not None:
        _database.drop()
    if _redis_server is not None:
        _redis_server.stop()


TABLES = ("idempotency_keys", "outbox", "bookings", "events", "users")


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """Every test starts with empty tables, an empty cache and a closed breaker."""
    from ticketmania.cache import get_cache
    from ticketmania.db.engine import get_engine

    with get_engine().begin() as connection:
        existing = [
            t
            for t in TABLES
            if connection.scalar(text("SELECT to_regclass(:t)"), {"t": t})
        ]
        connection.execute(
            text(f"TRUNCATE {', '.join(existing)} RESTART IDENTITY CASCADE")
        )
    cache = get_cache()
    if cache.client is not None:
        cache.client.flushdb()
    cache._open_until = 0.0
    yield


@pytest.fixture(scope="session")
def gateway_app():  # type: ignore[no-untyped-def]
    """Every function's app behind the local gateway: the same routing as `ticketmania serve`."""
    from localdev.gateway import LocalGateway
    from localdev.template import read_functions

    functions = [spec for spec in read_functions(ROOT / "template.yaml") if spec.routes]
    return LocalGateway(functions)


@pytest.fixture
def client(gateway_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(gateway_app, raise_server_exceptions=False) as test_client:
        yield test_client
