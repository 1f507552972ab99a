"""Tables. CHECK constraints are the last line of defence behind the logic."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column


class Base(DeclarativeBase):
    pass


def _created_at() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'admin', 'staff')", name="ck_users_role"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # Stored lower-cased, so a plain unique index makes it unique case-insensitively.
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="user")
    # Bumped by a password change; a token carrying an older version is refused.
    token_version: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class SeatShard(Base):
    """Some of an event's unsold seats. A booking locks one shard (or, when no
    single shard has enough, several in shard order), so buyers of one event do
    not all queue on one row."""

    __tablename__ = "seat_shards"
    __table_args__ = (
        CheckConstraint("available >= 0", name="ck_seat_shards_available_not_negative"),
    )

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    available: Mapped[int] = mapped_column(Integer, nullable=False)


class UserEventSeats(Base):
    """A user's confirmed seats on one event, kept with every booking and
    cancellation, so the per-user cap is one guarded upsert."""

    __tablename__ = "user_event_seats"
    __table_args__ = (
        CheckConstraint("seats >= 0", name="ck_user_event_seats_not_negative"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), primary_key=True
    )
    seats: Mapped[int] = mapped_column(Integer, nullable=False)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("total_seats > 0", name="ck_events_total_seats_positive"),
        CheckConstraint("shard_count BETWEEN 1 AND 64", name="ck_events_shard_count"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str] = mapped_column(String(200), nullable=False)
    event_date: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False
    )
    total_seats: Mapped[int] = mapped_column(Integer, nullable=False)
    shard_count: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, server_default="1"
    )
    # The seats anyone could have: total - confirmed - live holds, read with the
    # row. The shards' unsold seats, plus those of holds that have ended but
    # are not settled yet (their seats are free from `expires_at` on).
    available_seats: Mapped[int] = column_property(
        select(func.coalesce(func.sum(SeatShard.available), 0))
        .where(SeatShard.event_id == id)
        .correlate_except(SeatShard)
        .scalar_subquery()
        + select(func.coalesce(func.sum(text("b.seats_booked")), 0))
        .select_from(text("bookings AS b"))
        .where(
            text("b.event_id = events.id AND b.status = 'held'"),
            text("b.expires_at <= statement_timestamp()"),
        )
        .scalar_subquery()
    )
    # ISO 4217: every price and order total of the event is in it.
    currency: Mapped[str] = mapped_column(
        String(3), nullable=False, server_default="EUR"
    )
    # A buyer may cancel one line of their own paid order (an admin always may).
    buyers_cancel_lines: Mapped[bool] = mapped_column(
        nullable=False, server_default="false"
    )
    # Set when an admin cancels (DELETE): the row stays, hidden from reads.
    cancelled_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class TicketType(Base):
    """A kind of ticket of one event, with its price. Every event has a default
    one (`is_default`, price 0 until an admin sets one): what `POST /bookings`
    sells. Deleted only while nothing was sold of it (`deleted_at`)."""

    __tablename__ = "ticket_types"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    price_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sale_starts_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    sale_ends_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    max_per_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    is_default: Mapped[bool] = mapped_column(nullable=False, server_default="false")
    deleted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()

    def is_on_sale(self, now: datetime) -> bool:
        return (
            self.deleted_at is None
            and (self.sale_starts_at is None or self.sale_starts_at <= now)
            and (self.sale_ends_at is None or self.sale_ends_at > now)
        )


class Quota(Base):
    """Seats counted across ticket types (quota_ticket_types), kept unsold in
    quota_shards as an event's are in seat_shards."""

    __tablename__ = "quotas"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    shard_count: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    close_when_sold_out: Mapped[bool] = mapped_column(
        nullable=False, server_default="false"
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("seats_booked > 0", name="ck_bookings_seats_positive"),
        CheckConstraint(
            "status IN ('confirmed', 'cancelled', 'held', 'expired')",
            name="ck_bookings_status",
        ),
        CheckConstraint(
            "status <> 'held' OR expires_at IS NOT NULL",
            name="ck_bookings_held_expires",
        ),
        Index(
            "ix_bookings_event_holds",
            "event_id",
            "expires_at",
            postgresql_where="status = 'held'",
        ),
        Index("ix_bookings_user_id_id", "user_id", "id"),
        Index("ix_bookings_event_id_status", "event_id", "status"),
        Index(
            "ix_bookings_user_event_confirmed",
            "user_id",
            "event_id",
            postgresql_where="status = 'confirmed'",
        ),
        Index("ix_bookings_created_at", "created_at"),
        Index(
            "ix_bookings_cancelled_at",
            "cancelled_at",
            postgresql_where="cancelled_at IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # RESTRICT: a booking row outlives everything; nothing cascades into it.
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), nullable=False
    )
    seats_booked: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="confirmed"
    )
    created_at: Mapped[datetime] = _created_at()
    cancelled_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # When a hold ends (status "held"); from then on it reads "expired".
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # An order's money: its currency, and the sum of its lines at their prices
    # when it was made.
    currency: Mapped[str] = mapped_column(
        String(3), nullable=False, server_default="EUR"
    )
    total_minor: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default="0"
    )
    # A one-line order's line (an order of several has them in booking_lines).
    ticket_type_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    unit_price_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Refunds decided for the order (done, or under way).
    refunded_minor: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default="0"
    )


class WaitlistEntry(Base):
    """One buyer in an event's line: waiting, offered (a hold in their name),
    then accepted, expired or left. Live entries (waiting, offered) are the line."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("seats > 0", name="ck_waitlist_entries_seats_positive"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'accepted', 'expired', 'left')",
            name="ck_waitlist_entries_status",
        ),
        CheckConstraint(
            "status <> 'offered' OR booking_id IS NOT NULL",
            name="ck_waitlist_entries_offer_has_hold",
        ),
        Index(
            "uq_waitlist_entries_live",
            "event_id",
            "user_id",
            unique=True,
            postgresql_where="status IN ('waiting', 'offered')",
        ),
        Index(
            "ix_waitlist_entries_line",
            "event_id",
            "id",
            postgresql_where="status IN ('waiting', 'offered')",
        ),
        Index("ix_waitlist_entries_event_id", "event_id", "id"),
        Index(
            "ix_waitlist_entries_booking_id",
            "booking_id",
            postgresql_where="booking_id IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    seats: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="waiting"
    )
    booking_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="RESTRICT"), nullable=True
    )
    # The type the offer is to be of (None: the event's default type).
    ticket_type_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ticket_types.id", ondelete="RESTRICT"), nullable=True
    )
    offer_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # When the entry was written (not when its transaction began).
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )
    updated_at: Mapped[datetime] = _created_at()


class CheckIn(Base):
    """A ticket admitted at the door: one per booking, however many scanners read it."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_event_id", "event_id"),)

    booking_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="RESTRICT"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT"), nullable=False
    )
    seats: Mapped[int] = mapped_column(Integer, nullable=False)
    # Who admitted it: an admin or a member of staff.
    checked_in_by: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    checked_in_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )


class IdempotencyKey(Base):
    """A booking request's Idempotency-Key: unique per user, with a hash of its body."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    booking_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="RESTRICT"), nullable=False
    )
    created_at: Mapped[datetime] = _created_at()


class OutboxMessage(Base):
    """A side effect to perform after commit, written in the same transaction as its cause."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _created_at()
    published_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class SentNotification(Base):
    """An e-mail an outbox message has sent to one user: sent once, whatever the retries."""

    __tablename__ = "sent_notifications"

    outbox_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("outbox.id", ondelete="RESTRICT"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
