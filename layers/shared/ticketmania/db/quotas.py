"""Data access for quotas: their types, their shards and what orders took.

A quota's unsold seats are in quota_shards, as an event's are in seat_shards;
what an order took from it is in booking_quota_takes. So, for a quota that is
not closed, its shards' seats = size - the seats its confirmed orders and
its holds (ended ones until they are settled) took: `used`. Admin writes
lock every shard of the quota, in shard order (the order every multi-shard
lock of a quota takes, db/orders.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ticketmania.db.events import shard_count_for, spread, take_fullest_first
from ticketmania.db.models import Quota


def get(session: Session, quota_id: int) -> Quota | None:
    return session.get(Quota, quota_id)


def list_for_event(session: Session, event_id: int) -> list[Quota]:
    return list(
        session.scalars(
            select(Quota).where(Quota.event_id == event_id).order_by(Quota.id)
        )
    )


_INSERT_SHARDS = text(
    """
    INSERT INTO quota_shards (quota_id, shard, available)
    SELECT :quota_id, s.shard, (CAST(:available AS int[]))[s.shard + 1]
    FROM generate_series(0, cardinality(CAST(:available AS int[])) - 1) AS s(shard)
    """
)


def insert(
    session: Session,
    *,
    event_id: int,
    name: str,
    size: int,
    close_when_sold_out: bool,
    ticket_type_ids: list[int],
) -> Quota:
    """The quota, its types and its shards, all seats unsold. One that closes
    when sold out has one shard: sold out is then one row reaching 0."""
    shard_count = 1 if close_when_sold_out else shard_count_for(size)
    quota = Quota(
        event_id=event_id,
        name=name,
        size=size,
        shard_count=shard_count,
        close_when_sold_out=close_when_sold_out,
    )
    session.add(quota)
    session.flush()
    session.execute(
        _INSERT_SHARDS,
        {"quota_id": quota.id, "available": spread(size, shard_count)},
    )
    set_types(session, quota.id, ticket_type_ids)
    session.refresh(quota)
    return quota


_TYPES = text(
    "SELECT ticket_type_id FROM quota_ticket_types WHERE quota_id = :id ORDER BY 1"
)


def type_ids(session: Session, quota_id: int) -> list[int]:
    return [int(value) for value in session.scalars(_TYPES, {"id": quota_id})]


_SET_TYPES = text(
    """
    WITH gone AS (
      DELETE FROM quota_ticket_types
      WHERE quota_id = :id AND NOT ticket_type_id = ANY(CAST(:type_ids AS bigint[]))
    )
    INSERT INTO quota_ticket_types (quota_id, ticket_type_id)
    SELECT :id, unnest(CAST(:type_ids AS bigint[]))
    ON CONFLICT DO NOTHING
    """
)


def set_types(session: Session, quota_id: int, ticket_type_ids: list[int]) -> None:
    """The quota counts these types from now on (orders already made keep
    what they took: booking_quota_takes)."""
    session.execute(_SET_TYPES, {"id": quota_id, "type_ids": ticket_type_ids})


@dataclass(frozen=True)
class LockedShards:
    available: list[int]
    is_closed: bool


_LOCK_SHARDS = text(
    """
    SELECT available, closed FROM quota_shards WHERE quota_id = :id
    ORDER BY shard FOR UPDATE
    """
)


def lock_shards(session: Session, quota_id: int) -> LockedShards:
    """Every shard of the quota locked in shard order, once the orders in
    flight on them have finished."""
    rows = session.execute(_LOCK_SHARDS, {"id": quota_id}).all()
    return LockedShards(
        available=[int(row[0]) for row in rows],
        is_closed=any(bool(row[1]) for row in rows),
    )


_USED = text(
    """
    SELECT coalesce(sum(k.seats), 0) FROM booking_quota_takes AS k
    JOIN bookings AS b ON b.id = k.booking_id
    WHERE k.quota_id = :id AND b.status IN ('confirmed', 'held')
    """
)


def used(session: Session, quota_id: int) -> int:
    """Seats the quota's confirmed orders and unsettled holds took. Read with
    its shards locked (`lock_shards`), in a statement of its own: it sees every
    order and cancellation that held a shard before."""
    return int(session.scalar(_USED, {"id": quota_id}) or 0)


_SET_AVAILABLE = text(
    """
    UPDATE quota_shards AS s SET available = (CAST(:available AS int[]))[s.shard + 1]
    WHERE s.quota_id = :id
    """
)


def resize(
    session: Session, quota: Quota, *, size: int, used_seats: int, is_closed: bool
) -> None:
    """The quota's new size and its shards' seats (size - used, spread again;
    none if closed). Run with its shards locked (`lock_shards`)."""
    free = 0 if is_closed else size - used_seats
    session.execute(
        _SET_AVAILABLE,
        {"id": quota.id, "available": spread(free, quota.shard_count)},
    )
    session.execute(
        update(Quota)
        .where(Quota.id == quota.id)
        .values(size=size, updated_at=func.now())
    )
    session.refresh(quota)


def rename(session: Session, quota: Quota, name: str) -> None:
    session.execute(
        update(Quota)
        .where(Quota.id == quota.id)
        .values(name=name, updated_at=func.now())
    )
    session.refresh(quota)


_GIVE_BACK = text(
    """
    WITH takes AS (
      SELECT k.quota_id, mod(k.booking_id, q.shard_count) AS shard, sum(k.seats) AS seats
      FROM booking_quota_takes AS k JOIN quotas AS q ON q.id = k.quota_id
      WHERE k.booking_id = ANY(CAST(:ids AS bigint[]))
      GROUP BY k.quota_id, mod(k.booking_id, q.shard_count)
    ), locked AS (
      SELECT s.quota_id, s.shard FROM quota_shards AS s
      JOIN takes ON takes.quota_id = s.quota_id AND takes.shard = s.shard
      ORDER BY s.quota_id, s.shard
      FOR UPDATE OF s
    )
    UPDATE quota_shards AS s
    SET available = s.available + CASE WHEN s.closed THEN 0 ELSE takes.seats END
    FROM takes, locked
    WHERE s.quota_id = takes.quota_id AND s.shard = takes.shard
      AND locked.quota_id = s.quota_id AND locked.shard = s.shard
    """
)


def give_back(session: Session, booking_ids: list[int]) -> None:
    """What these orders took from quotas goes back to them (a closed quota
    takes none back). Run with the event's shards locked, by whoever ended
    the orders in the same transaction."""
    if booking_ids:
        session.execute(_GIVE_BACK, {"ids": booking_ids})


@dataclass(frozen=True)
class QuotaReport:
    size: int
    confirmed: int
    held: int
    available: int
    is_closed: bool


_REPORT = text(
    """
    WITH takes AS (
      SELECT k.seats, b.status, b.expires_at FROM booking_quota_takes AS k
      JOIN bookings AS b ON b.id = k.booking_id
      WHERE k.quota_id = :id AND b.status IN ('confirmed', 'held')
    )
    SELECT
      (SELECT coalesce(sum(seats), 0) FROM takes WHERE status = 'confirmed'),
      (SELECT coalesce(sum(seats), 0) FROM takes
       WHERE status = 'held' AND expires_at > statement_timestamp()),
      (SELECT coalesce(sum(seats), 0) FROM takes
       WHERE status = 'held' AND expires_at <= statement_timestamp()),
      (SELECT coalesce(sum(available), 0) FROM quota_shards WHERE quota_id = :id),
      (SELECT bool_or(closed) FROM quota_shards WHERE quota_id = :id)
    """
)


def report(session: Session, quota: Quota) -> QuotaReport:
    """The quota's counts: seats confirmed, held by live holds, and free (its
    unsold seats plus those of ended holds, free from their end on; none once
    closed)."""
    row = session.execute(_REPORT, {"id": quota.id}).one()
    confirmed, held, ended, unsold, closed = (
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
        bool(row[4]),
    )
    return QuotaReport(
        size=quota.size,
        confirmed=confirmed,
        held=held,
        available=0 if closed else unsold + ended,
        is_closed=closed,
    )


@dataclass
class EventQuotaSeats:
    """Every quota of an event with its shards locked (after the event's):
    the unsold seats of each shard, which quotas are closed, and which
    quotas count each type. What offers to the line take from."""

    unsold: dict[int, list[int]]
    closed: set[int]
    quotas_of_type: dict[int, list[int]]

    def free(self, quota_id: int) -> int:
        return 0 if quota_id in self.closed else sum(self.unsold[quota_id])

    def take(self, quota_id: int, seats: int) -> None:
        take_fullest_first(self.unsold[quota_id], seats)


_LOCK_EVENT_SHARDS = text(
    """
    SELECT s.quota_id, s.available, s.closed FROM quota_shards AS s
    JOIN quotas AS q ON q.id = s.quota_id
    WHERE q.event_id = :event_id
    ORDER BY s.quota_id, s.shard
    FOR UPDATE OF s
    """
)

_TYPES_OF_EVENT_QUOTAS = text(
    """
    SELECT qt.ticket_type_id, qt.quota_id FROM quota_ticket_types AS qt
    JOIN quotas AS q ON q.id = qt.quota_id WHERE q.event_id = :event_id
    ORDER BY 1, 2
    """
)


def lock_event_quotas(session: Session, event_id: int) -> EventQuotaSeats:
    """Every shard of every quota of the event, locked in (quota, shard) order.
    Run with the event's shards locked."""
    unsold: dict[int, list[int]] = {}
    closed: set[int] = set()
    for quota_id, available, is_closed in session.execute(
        _LOCK_EVENT_SHARDS, {"event_id": event_id}
    ):
        unsold.setdefault(int(quota_id), []).append(int(available))
        if is_closed:
            closed.add(int(quota_id))
    quotas_of_type: dict[int, list[int]] = {}
    for type_id, quota_id in session.execute(
        _TYPES_OF_EVENT_QUOTAS, {"event_id": event_id}
    ):
        quotas_of_type.setdefault(int(type_id), []).append(int(quota_id))
    return EventQuotaSeats(unsold=unsold, closed=closed, quotas_of_type=quotas_of_type)


def set_event_quotas(session: Session, seats: EventQuotaSeats) -> None:
    """Write back what `lock_event_quotas` locked, as changed since."""
    for quota_id, available in seats.unsold.items():
        session.execute(_SET_AVAILABLE, {"id": quota_id, "available": available})
