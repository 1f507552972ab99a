"""Apply Alembic migrations from code (`ticketmania migrate`, MigrateFunction,
the tests), in one transaction under the migration advisory lock (see
migrations/env.py), with the role's session defaults."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from ticketmania.db.server_functions import write_server_functions
from ticketmania.db.session_limits import write_role_defaults
from ticketmania.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_to_head(engine: Engine, settings: Settings | None = None) -> None:
    """Migrate, write the role's session defaults (db/session_limits.py) from
    `settings` (the container's) and the server's functions of the current
    statements (db/server_functions.py), in one transaction."""
    settings = settings or get_settings()
    config = alembic_config()
    config.attributes["long_statement_timeout_ms"] = (
        settings.db_long_statement_timeout_ms
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        write_role_defaults(connection, settings)
        write_server_functions(connection)
    # The pool's connections started before the defaults were written: new ones
    # start with them.
    engine.dispose()


def current_revision(engine: Engine) -> str:
    """The revision the database is at."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return str(MigrationContext.configure(connection).get_current_revision())
