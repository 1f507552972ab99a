"""holds and a waitlist: a booking may be held until it expires, and buyers who
come after a sell-out wait in line for the seats that come back

A hold is a booking row with status `held` and an `expires_at`; it takes its
seats from the shards like a confirmed booking, and counts toward the user's
cap. Past `expires_at` it reads `expired` whatever its row says; settling it
(marking it `expired`, giving its seats back) is bookkeeping that may come
later. `waitlist_entries` is the line: one live entry (waiting or offered) per
user and event, in id order; an offer is a hold in the entry's name.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'confirmed', 'cancelled', 'held', 'expired'"


def upgrade() -> None:
    op.add_column(
        "bookings",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint("ck_bookings_status", "bookings")
    op.create_check_constraint(
        "ck_bookings_status", "bookings", f"status IN ({STATUSES})"
    )
    op.create_check_constraint(
        "ck_bookings_held_expires",
        "bookings",
        "status <> 'held' OR expires_at IS NOT NULL",
    )
    # The holds of an event, by when they end: what expires next, what is due.
    op.create_index(
        "ix_bookings_event_holds",
        "bookings",
        ["event_id", "expires_at"],
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "event_id",
            sa.BigInteger(),
            sa.ForeignKey("events.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), server_default="waiting", nullable=False),
        sa.Column(
            "booking_id",
            sa.BigInteger(),
            sa.ForeignKey("bookings.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        # When the entry was written, not when its transaction began: the line's
        # order and the moment the entry began to wait.
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("seats > 0", name="ck_waitlist_entries_seats_positive"),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'accepted', 'expired', 'left')",
            name="ck_waitlist_entries_status",
        ),
        sa.CheckConstraint(
            "status <> 'offered' OR booking_id IS NOT NULL",
            name="ck_waitlist_entries_offer_has_hold",
        ),
    )
    # One live entry per user and event.
    op.create_index(
        "uq_waitlist_entries_live",
        "waitlist_entries",
        ["event_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('waiting', 'offered')"),
    )
    # The line of an event, in order: who is first, who is ahead of whom.
    op.create_index(
        "ix_waitlist_entries_line",
        "waitlist_entries",
        ["event_id", "id"],
        postgresql_where=sa.text("status IN ('waiting', 'offered')"),
    )
    op.create_index(
        "ix_waitlist_entries_event_id", "waitlist_entries", ["event_id", "id"]
    )
    op.create_index(
        "ix_waitlist_entries_booking_id",
        "waitlist_entries",
        ["booking_id"],
        postgresql_where=sa.text("booking_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("waitlist_entries")
    op.drop_index("ix_bookings_event_holds", "bookings")
    op.drop_constraint("ck_bookings_held_expires", "bookings")
    op.drop_constraint("ck_bookings_status", "bookings")
    op.execute(
        "UPDATE bookings SET status = 'cancelled' WHERE status IN ('held', 'expired')"
    )
    op.create_check_constraint(
        "ck_bookings_status", "bookings", "status IN ('confirmed', 'cancelled')"
    )
    op.drop_column("bookings", "expires_at")
