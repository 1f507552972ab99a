"""indexes for the public event listing

Partial indexes over active (not cancelled) events for each allowed sort, and
trigram indexes for the case-insensitive substring filters where pg_trgm is
available (it is on RDS, Neon and Debian's Postgres; the embedded pgserver
build lacks it, and there the filters fall back to a scan).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "cancelled_at IS NULL"


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX ix_events_active_date ON events (event_date, id) WHERE {ACTIVE}"
    )
    op.execute(
        f"CREATE INDEX ix_events_active_created ON events (created_at DESC, id DESC) WHERE {ACTIVE}"
    )
    op.execute(
        f"CREATE INDEX ix_events_active_title ON events (title, id) WHERE {ACTIVE}"
    )
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX ix_events_title_trgm ON events USING gin (title gin_trgm_ops) WHERE {ACTIVE};
            CREATE INDEX ix_events_description_trgm ON events USING gin (description gin_trgm_ops) WHERE {ACTIVE};
            CREATE INDEX ix_events_location_trgm ON events USING gin (location gin_trgm_ops) WHERE {ACTIVE};
          END IF;
        END
        $$;
        """
    )


def downgrade() -> None:
    for name in (
        "ix_events_location_trgm",
        "ix_events_description_trgm",
        "ix_events_title_trgm",
        "ix_events_active_title",
        "ix_events_active_created",
        "ix_events_active_date",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
