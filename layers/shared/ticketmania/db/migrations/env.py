"""Alembic environment: runs on a connection handed over by `ticketmania.db.migrate`,
or on DATABASE_URL when the alembic command line is used."""

from __future__ import annotations

import time

from alembic import context
from sqlalchemy import Connection, text

from ticketmania.db.models import Base
from ticketmania.db.session_limits import (
    MIGRATION_LOCK_TIMEOUT_MS,
    raise_for_long_statements,
)

# Any fixed number: two deploys migrating at once take turns on this lock.
MIGRATION_LOCK_ID = 727_100_001


def take_migration_lock(connection: Connection) -> None:
    """Wait for any other migration (another deploy's, another local server
    starting) to commit. Tried every 100 ms rather than waited for in one
    statement, which the lock and socket timeouts of a request would end."""
    deadline = time.monotonic() + MIGRATION_LOCK_TIMEOUT_MS / 1000
    while not connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
    ).scalar_one():
        if time.monotonic() > deadline:
            raise TimeoutError("another migration held the migration lock too long")
        time.sleep(0.1)


def run_on(connection: Connection) -> None:
    # Where long statements are allowed (MigrateFunction), a migration may build
    # an index over a large table, and waits a while for the locks it needs
    # (another deploy's migration first); elsewhere, a request's limits hold.
    long_ms = context.config.attributes.get("long_statement_timeout_ms")
    if long_ms is not None:
        raise_for_long_statements(
            connection,
            statement_timeout_ms=long_ms,
            lock_timeout_ms=MIGRATION_LOCK_TIMEOUT_MS,
        )
    take_migration_lock(connection)
    context.configure(connection=connection, target_metadata=Base.metadata)
    context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from ticketmania.db.engine import build_engine
    from ticketmania.settings import get_settings

    engine = build_engine(get_settings())
    with engine.begin() as connection:
        run_on(connection)
    engine.dispose()


run()
