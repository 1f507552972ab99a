"""sent notifications: which e-mails each outbox message has sent, so a message
delivered twice sends once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sent_notifications",
        sa.Column(
            "outbox_id",
            sa.BigInteger(),
            sa.ForeignKey("outbox.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "sent_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("outbox_id", "user_id", name="pk_sent_notifications"),
    )
    # The sales report reads a day's bookings and cancellations.
    op.create_index("ix_bookings_created_at", "bookings", ["created_at"])
    op.create_index(
        "ix_bookings_cancelled_at",
        "bookings",
        ["cancelled_at"],
        postgresql_where=sa.text("cancelled_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_bookings_cancelled_at", "bookings")
    op.drop_index("ix_bookings_created_at", "bookings")
    op.drop_table("sent_notifications")
