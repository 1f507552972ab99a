"""seat shards: an event's unsold seats spread over rows bookings lock one at a time

One hot event used to be one hot row: every booking of it queued on that row's
lock, and throughput fell with every client added (docs/architecture.md,
BENCHMARKS.md). Its seats now live in `seat_shards`, up to 64 rows per event;
`events.available_seats` is gone (reads sum the shards). Each user's confirmed
seats per event are kept in `user_event_seats`, so the per-user cap is one
guarded upsert. A constraint trigger keeps the seats given back within the
event's total.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with ticketmania.db.events.shard_count_for.
SHARD_COUNT = "LEAST(64, GREATEST(1, total_seats / 10))"


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("shard_count", sa.SmallInteger(), server_default="1", nullable=False),
    )
    op.create_check_constraint(
        "ck_events_shard_count", "events", "shard_count BETWEEN 1 AND 64"
    )
    op.create_table(
        "seat_shards",
        sa.Column(
            "event_id",
            sa.BigInteger(),
            sa.ForeignKey("events.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "shard", name="pk_seat_shards"),
        sa.CheckConstraint(
            "available >= 0", name="ck_seat_shards_available_not_negative"
        ),
    )
    op.create_table(
        "user_event_seats",
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "event_id",
            sa.BigInteger(),
            sa.ForeignKey("events.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_user_event_seats"),
        sa.CheckConstraint("seats >= 0", name="ck_user_event_seats_not_negative"),
    )
    # Existing seats move into shards, spread evenly; a cancelled event has none to sell.
    op.execute(f"UPDATE events SET shard_count = {SHARD_COUNT}")
    op.execute(
        """
        INSERT INTO seat_shards (event_id, shard, available)
        SELECT e.id, s.shard,
               CASE WHEN e.cancelled_at IS NULL
                    THEN e.available_seats / e.shard_count
                         + (s.shard < mod(e.available_seats, e.shard_count))::int
                    ELSE 0 END
        FROM events e, LATERAL generate_series(0, e.shard_count - 1) AS s(shard)
        """
    )
    op.execute(
        """
        INSERT INTO user_event_seats (user_id, event_id, seats)
        SELECT user_id, event_id, sum(seats_booked) FROM bookings
        WHERE status = 'confirmed' GROUP BY user_id, event_id
        """
    )
    op.drop_constraint("ck_events_available_not_negative", "events")
    op.drop_constraint("ck_events_available_within_total", "events")
    op.drop_column("events", "available_seats")
    # The last line behind the logic: seats given back (a cancellation, a resize)
    # can never make an event's unsold seats exceed its total. Checked at commit,
    # when a resize has moved both; bookings only take seats and never fire it.
    op.execute(
        """
        CREATE FUNCTION seats_within_total() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
          event bigint;
        BEGIN
          IF TG_TABLE_NAME = 'events' THEN
            event := NEW.id;
          ELSE
            event := NEW.event_id;
          END IF;
          IF (SELECT coalesce(sum(available), 0) FROM seat_shards WHERE event_id = event)
             > (SELECT total_seats FROM events WHERE id = event) THEN
            RAISE EXCEPTION 'the unsold seats of an event exceed its total'
              USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_seats_within_total';
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER seat_shards_within_total
        AFTER UPDATE OF available ON seat_shards
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.available > OLD.available)
        EXECUTE FUNCTION seats_within_total()
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER events_total_covers_seats
        AFTER UPDATE OF total_seats ON events
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.total_seats < OLD.total_seats)
        EXECUTE FUNCTION seats_within_total()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_total_covers_seats ON events")
    op.execute("DROP TRIGGER seat_shards_within_total ON seat_shards")
    op.execute("DROP FUNCTION seats_within_total()")
    op.add_column(
        "events",
        sa.Column("available_seats", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        """
        UPDATE events e SET available_seats = CASE WHEN e.cancelled_at IS NULL
          THEN (SELECT coalesce(sum(available), 0) FROM seat_shards s WHERE s.event_id = e.id)
          ELSE e.total_seats END
        """
    )
    op.create_check_constraint(
        "ck_events_available_not_negative", "events", "available_seats >= 0"
    )
    op.create_check_constraint(
        "ck_events_available_within_total", "events", "available_seats <= total_seats"
    )
    op.drop_table("user_event_seats")
    op.drop_table("seat_shards")
    op.drop_constraint("ck_events_shard_count", "events")
    op.drop_column("events", "shard_count")
