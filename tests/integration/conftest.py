"""The integration tier: a fresh database on a real Postgres and a private Redis
for the session, empty tables and cache before every test, and the HTTP client.

Services start on the first integration test, not before: the unit tier runs
without them. Each function app validates its settings as it loads, so tests
import apps inside fixtures or tests, never at module level.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import ROOT
from tests.services import (
    LOCALSTRIPE_SECRET_KEY,
    LocalStripe,
    PgBouncer,
    RedisServer,
    TestDatabase,
    find_postgres,
    find_redis,
    free_port,
    is_listening,
)

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
# The tests' ticket signing key (an Ed25519 seed, base64url): never the JWT key.
TEST_TICKET_KEY = "dGVzdC10aWNrZXQta2V5LXNlZWQtMzItYnl0ZXMhISE"
# The tests' Stripe webhook signing secret (what Stripe calls the endpoint's secret).
TEST_WEBHOOK_SECRET = "whsec_ticketmania_tests"
# Every table the migrations made, but their own bookkeeping.
_APP_TABLES = text(
    "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)


def reset_cached_clients() -> None:
    """Forget the settings and every client built from them (closing the
    engine's connections): the next use builds them from the environment."""
    from ticketmania.cache import get_cache
    from ticketmania.db.engine import _session_factory, get_engine
    from ticketmania.mail import get_mailbox
    from ticketmania.settings import get_settings

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    if get_cache.cache_info().currsize and get_cache().client is not None:
        get_cache().client.close()
    from ticketmania.payments import get_provider
    from ticketmania.tickets import get_key_ring

    for cached in (
        get_provider,
        get_settings,
        get_engine,
        _session_factory,
        get_cache,
        get_mailbox,
        get_key_ring,
    ):
        cached.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A database of its own on a real Postgres, and a private redis-server."""
    database: TestDatabase | None = None
    redis_server: RedisServer | None = None
    stripe: LocalStripe | None = None
    try:
        database = find_postgres().create()
        redis_url, redis_server = find_redis()
        stripe = LocalStripe().start()
    except Exception as exc:  # one clear line instead of a wall of errors
        pytest.exit(
            f"test services unavailable: {exc} (run `make services`)", returncode=3
        )
    os.environ.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "TICKET_SIGNING_KEYS": TEST_TICKET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            # Tests run jobs themselves; a `ticketmania serve` they start must not.
            "TICKETMANIA_JOBS": "off",
            # The flows under test are not about rate limits; their own tests set them.
            "RATE_LIMIT_SIGNUP": "100000/second",
            "RATE_LIMIT_BOOKING": "100000/second",
            "TICKETMANIA_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            # Production gives up on Redis after 100 ms; a busy test machine can
            # pause a live Redis that long, which would open the breaker and turn
            # the cache and limits off mid-test. Outage tests use dead ports.
            "REDIS_TIMEOUT_SECONDS": "2",
            # Payments through the real `stripe` SDK, against localstripe.
            "PAYMENT_PROVIDER": "stripe",
            "STRIPE_SECRET_KEY": LOCALSTRIPE_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe.url,
        }
    )
    os.environ.pop("SECRET_KEY_PARAMETER", None)
    os.environ.pop("SECRET_KEY_SECRET_ID", None)
    os.environ.pop("TICKET_SIGNING_KEYS_PARAMETER", None)
    reset_cached_clients()
    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import upgrade_to_head

    upgrade_to_head(get_engine())
    yield
    get_engine().dispose()
    database.drop()
    if redis_server is not None:
        redis_server.stop()
    stripe.stop()


@pytest.fixture(scope="session")
def pooler(services: None) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the session's database, with
    two server connections for however many clients (tests/services.py)."""
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["DATABASE_URL"])
    server_url = url.set(database="postgres").render_as_string(hide_password=False)
    try:
        bouncer = PgBouncer(server_url).start()
    except RuntimeError as exc:
        pytest.exit(f"test services unavailable: {exc} (run `make services`)", 3)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def pooled_database_url(pooler: PgBouncer) -> str:
    """The session's database through the pooler."""
    from sqlalchemy.engine import make_url

    return pooler.url_for(str(make_url(os.environ["DATABASE_URL"]).database))


@pytest.fixture(autouse=True)
def clean_state(services: None) -> Iterator[None]:
    """Every test starts with empty tables, an empty cache and a closed breaker."""
    from tests.factories import loading_connection
    from ticketmania.cache import get_cache
    from ticketmania.settings import get_settings

    with loading_connection() as connection:
        tables = connection.scalar(_APP_TABLES)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    cache = get_cache()
    if cache.client is not None:
        cache.client.flushdb()
    cache._open_until = 0.0
    data = get_settings().ticketmania_data_dir
    for folder in ("mail", "reports"):
        shutil.rmtree(data / folder, ignore_errors=True)
    yield


@pytest.fixture(scope="session")
def gateway_app(services: None) -> Any:
    """Every function's app behind the local gateway: the same routing as `ticketmania serve`."""
    from localdev.gateway import gateway_for

    return gateway_for(ROOT)


@pytest.fixture
def client(gateway_app: Any) -> Iterator[TestClient]:
    with TestClient(gateway_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> str:
    """An admin's access token."""
    from tests.factories import make_admin

    return make_admin(client)[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on a loopback port: SQS, SES and S3 over real HTTP."""
    port = free_port()
    with subprocess.Popen(
        [
            str(Path(sys.executable).parent / "moto_server"),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not is_listening("127.0.0.1", port):
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        yield url
        process.terminate()
        process.wait(10)


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 clients in this test talk to the moto server (fresh state)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    httpx.post(f"{moto_server}/moto-api/reset")
    return moto_server


@contextmanager
def serving(**environment: str) -> Iterator[str]:
    """`ticketmania serve` with four worker processes, on this session's database
    and Redis (and `environment` over the session's); its base URL."""
    port = free_port()
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localdev.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            process.kill()
            raise AssertionError("ticketmania serve did not start")
        yield base_url
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.fixture(scope="module")
def live_server(services: None) -> Iterator[str]:
    """`ticketmania serve` with several worker processes: concurrent requests
    really run at once, as in Lambda."""
    with serving() as base_url:
        yield base_url
