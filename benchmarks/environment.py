"""A throwaway database and Redis for one benchmark run (the tests' own service discovery)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.services import find_postgres, find_redis

SECRET_KEY = "benchmark-secret-key-long-enough-for-hs256-0123456789"


@contextmanager
def benchmark_environment() -> Iterator[None]:
    database = find_postgres().create()
    redis_url, redis_server = find_redis()
    os.environ.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "MAX_SEATS_PER_USER_PER_EVENT": "100000",
            "DB_POOL_SIZE": "40",
        }
    )
    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import upgrade_to_head

    upgrade_to_head(get_engine())
    try:
        yield
    finally:
        get_engine().dispose()
        database.drop()
        if redis_server is not None:
            redis_server.stop()
