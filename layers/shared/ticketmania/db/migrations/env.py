"""Alembic environment: runs on a connection handed over by `ticketmania.db.migrate`,
or on DATABASE_URL when the alembic command line is used."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from ticketmania.db.models import Base

# Any fixed number: two deploys migrating at once take turns on this lock.
MIGRATION_LOCK_ID = 727_100_001


def run_on(connection: Connection) -> None:
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
    )
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
