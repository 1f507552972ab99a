"""A throwaway database and Redis for one benchmark run (the tests' own service discovery)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from tests.services import find_postgres, find_redis

SECRET_KEY = "benchmark-secret-key-long-enough-for-hs256-0123456789"
# The run's ticket signing key (an Ed25519 seed, base64url).
TICKET_KEY = "YmVuY2htYXJrLXRpY2tldC1rZXktc2VlZC0zMiEhISE"
# The settings' ceiling: the per-user cap never refuses a throughput run.
MAX_SEATS_PER_USER = 100_000
# Bookings per user: counted as in production (one Redis script per booking),
# never reached in a throughput run.
BOOKING_RATE = "100000000/minute"
# What the throughput settings above change; the flash sale runs without them.
THROUGHPUT_SETTINGS = ("MAX_SEATS_PER_USER_PER_EVENT", "RATE_LIMIT_BOOKING")


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str

    @property
    def database_name(self) -> str:
        return str(make_url(self.database_url).database)

    def pg_args(self) -> list[str]:
        """Connection arguments for psql and pgbench."""
        url = make_url(self.database_url)
        return [
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            str(url.database),
        ]

    def pg_env(self) -> dict[str, str]:
        url = make_url(self.database_url)
        return {**os.environ, "PGPASSWORD": url.password or ""}


def server_environment(services: Services, *, data_dir: str) -> dict[str, str]:
    """The environment of the local server (and of this process): the benchmark's
    own database and Redis, metrics off outside the handler CPU benchmark."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "TICKET_SIGNING_KEYS": TICKET_KEY,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "TicketMania",
        "POWERTOOLS_SERVICE_NAME": "benchmarks",
        "MAX_SEATS_PER_USER_PER_EVENT": str(MAX_SEATS_PER_USER),
        "RATE_LIMIT_BOOKING": BOOKING_RATE,
        # A cached listing outlives the run: the handler benchmark measures hits only.
        "EVENTS_CACHE_TTL": "3600",
        # No scheduled jobs inside `ticketmania serve` while it is measured, and
        # whatever local files it writes go to a folder of the run's own.
        "TICKETMANIA_JOBS": "off",
        "TICKETMANIA_DATA_DIR": data_dir,
        # The servers and this process read and write the same Redis keys.
        "REDIS_KEY_PREFIX": "bench",
    }


@contextmanager
def benchmark_environment() -> Iterator[Services]:
    database = find_postgres().create()
    redis_url, redis_server = find_redis()
    services = Services(database_url=database.url, redis_url=redis_url)
    data_dir = tempfile.mkdtemp(prefix="bench-data-")
    os.environ.update(server_environment(services, data_dir=data_dir))
    os.environ.pop("DB_POOL_SIZE", None)
    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import upgrade_to_head

    upgrade_to_head(get_engine())
    try:
        yield services
    finally:
        get_engine().dispose()
        database.drop()
        if redis_server is not None:
            redis_server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
