"""tickets at the door: check-ins, one per booking, and the door staff's role

A booking is admitted once: the check-in's primary key is the booking's, so
however many scanners read one code at once, one insert wins. Role `staff`
may check tickets in and read the counts, nothing else an admin may.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_users_role", "users")
    op.create_check_constraint(
        "ck_users_role", "users", "role IN ('user', 'admin', 'staff')"
    )
    op.create_table(
        "checkins",
        sa.Column(
            "booking_id",
            sa.BigInteger(),
            sa.ForeignKey("bookings.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column(
            "event_id",
            sa.BigInteger(),
            sa.ForeignKey("events.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column(
            "checked_in_by",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "checked_in_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
    )
    op.create_index("ix_checkins_event_id", "checkins", ["event_id"])


def downgrade() -> None:
    op.drop_table("checkins")
    op.execute("UPDATE users SET role = 'user' WHERE role = 'staff'")
    op.drop_constraint("ck_users_role", "users")
    op.create_check_constraint("ck_users_role", "users", "role IN ('user', 'admin')")
