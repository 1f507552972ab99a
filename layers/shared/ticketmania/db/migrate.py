"""Apply Alembic migrations from code (`ticketmania migrate`, the tests), in one
transaction under the migration advisory lock (see migrations/env.py)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_to_head(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str:
    """The revision the database is at."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return str(MigrationContext.configure(connection).get_current_revision())
