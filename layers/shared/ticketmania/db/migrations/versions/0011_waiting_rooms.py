"""waiting rooms: an event's on-sale admission control

`waiting_rooms` keeps each event's room (its times and rates); while one is
enabled, `events.admission_required` is true and the booking and order
statements sell only to a request that carries an admission (checked in the
statement itself, so no cache can let a sale through). `admission_uses`
keeps each admission's one use, written in the statement that books with it:
its primary key is what makes a second use fail. The queue itself (positions,
serving) lives in Redis.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE events ADD COLUMN admission_required boolean NOT NULL DEFAULT false;
        CREATE TABLE waiting_rooms (
          event_id bigint PRIMARY KEY REFERENCES events (id) ON DELETE RESTRICT,
          enabled boolean NOT NULL,
          opens_at timestamptz NOT NULL,
          on_sale_at timestamptz NOT NULL,
          admit_per_minute integer NOT NULL CONSTRAINT ck_waiting_rooms_rate
            CHECK (admit_per_minute > 0),
          max_active_holds integer CONSTRAINT ck_waiting_rooms_holds
            CHECK (max_active_holds > 0),
          admission_ttl_seconds integer NOT NULL CONSTRAINT ck_waiting_rooms_ttl
            CHECK (admission_ttl_seconds > 0),
          updated_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT ck_waiting_rooms_times CHECK (opens_at <= on_sale_at)
        );
        CREATE TABLE admission_uses (
          jti varchar(64) CONSTRAINT pk_admission_uses PRIMARY KEY,
          event_id bigint NOT NULL,
          user_id bigint NOT NULL,
          position bigint NOT NULL,
          booking_id bigint NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_admission_uses_event_position ON admission_uses (event_id, position);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE admission_uses;
        DROP TABLE waiting_rooms;
        ALTER TABLE events DROP COLUMN admission_required;
        """
    )
