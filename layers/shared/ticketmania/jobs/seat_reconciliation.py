"""reconcile-seats: does every event's count of unsold seats match its bookings?

For every event, the shards' unsold seats = total_seats - confirmed seats -
held seats (every hold not settled yet, ended or not: its seats leave the
shards when it is made and come back when it is settled), and every user's
count of seats per event equals their confirmed and held seats. Each
difference is logged as a drift and counted (SeatDrift); with `repair`, the
event's shards are locked (so no booking moves meanwhile) and rewritten from
the bookings, and the users' counts with them. Each transaction takes an
advisory lock, so two runs do not do the same work at once; were they to,
rewriting an event from its bookings twice changes nothing.

Quotas the same way: a quota that is not closed has size - what its
confirmed orders and unsettled holds took (booking_quota_takes) in its
shards; a difference is a quota drift (QuotaDrift), repaired by rewriting the
quota's shards with the event's and the quota's shards locked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from ticketmania.db import events as event_table
from ticketmania.db import quotas as quota_table
from ticketmania.db.engine import SessionOpener
from ticketmania.observability import count, logger

RECONCILE_LOCK_ID = 727_100_002


@dataclass(frozen=True)
class Drift:
    event_id: int
    total_seats: int
    unsold: int
    # Seats booked: confirmed, and held by holds not settled yet.
    confirmed: int
    # Users whose seat count on this event differs from their bookings.
    users_off: int


_DRIFTS = text(
    """
    WITH seats AS (
      SELECT e.id, e.total_seats,
             (SELECT coalesce(sum(available), 0) FROM seat_shards s WHERE s.event_id = e.id) AS unsold,
             (SELECT coalesce(sum(seats_booked), 0) FROM bookings b
               WHERE b.event_id = e.id AND b.status IN ('confirmed', 'held')) AS confirmed
      FROM events AS e
    ), per_user AS (
      SELECT coalesce(u.event_id, b.event_id) AS event_id, count(*) AS users_off
      FROM user_event_seats AS u
      FULL JOIN (
        SELECT user_id, event_id, sum(seats_booked) AS seats FROM bookings
        WHERE status IN ('confirmed', 'held') GROUP BY user_id, event_id
      ) AS b ON b.user_id = u.user_id AND b.event_id = u.event_id
      WHERE coalesce(u.seats, 0) <> coalesce(b.seats, 0)
      GROUP BY 1
    )
    SELECT seats.id, seats.total_seats, seats.unsold, seats.confirmed,
           coalesce(per_user.users_off, 0)
    FROM seats LEFT JOIN per_user ON per_user.event_id = seats.id
    WHERE seats.unsold <> seats.total_seats - seats.confirmed OR per_user.users_off > 0
    ORDER BY seats.id
    """
)

_USERS_FROM_BOOKINGS = text(
    """
    WITH truth AS (
      SELECT user_id, event_id, sum(seats_booked) AS seats FROM bookings
      WHERE event_id = :event_id AND status IN ('confirmed', 'held')
      GROUP BY user_id, event_id
    ), reset AS (
      UPDATE user_event_seats SET seats = 0
      WHERE event_id = :event_id
        AND (user_id, event_id) NOT IN (SELECT user_id, event_id FROM truth)
    )
    INSERT INTO user_event_seats (user_id, event_id, seats)
    SELECT user_id, event_id, seats FROM truth
    ON CONFLICT (user_id, event_id) DO UPDATE SET seats = EXCLUDED.seats
    """
)


@dataclass(frozen=True)
class QuotaDrift:
    quota_id: int
    event_id: int
    size: int
    unsold: int
    used: int


_QUOTA_DRIFTS = text(
    """
    WITH books AS (
      SELECT q.id, q.event_id, q.size,
             (SELECT coalesce(sum(available), 0) FROM quota_shards s
              WHERE s.quota_id = q.id) AS unsold,
             (SELECT coalesce(bool_or(closed), false) FROM quota_shards s
              WHERE s.quota_id = q.id) AS closed,
             (SELECT coalesce(sum(k.seats), 0) FROM booking_quota_takes k
              JOIN bookings b ON b.id = k.booking_id
              WHERE k.quota_id = q.id AND b.status IN ('confirmed', 'held')) AS used
      FROM quotas AS q JOIN events AS e ON e.id = q.event_id
      WHERE e.cancelled_at IS NULL
    )
    SELECT id, event_id, size, unsold, used FROM books
    WHERE NOT closed AND unsold <> size - used
    ORDER BY id
    """
)


def find_quota_drifts(session: Session) -> list[QuotaDrift]:
    return [QuotaDrift(*row) for row in session.execute(_QUOTA_DRIFTS).all()]


def repair_quota(session: Session, drift: QuotaDrift) -> None:
    """Rewrite the quota's shards from what its orders took, with the event's
    shards and the quota's locked (in the order every seat change takes)."""
    event_table.lock_for_admin_write(session, drift.event_id)
    event_table.lock_seats(session, drift.event_id)
    quota = quota_table.get(session, drift.quota_id)
    assert quota is not None  # quotas are never deleted
    shards = quota_table.lock_shards(session, quota.id)
    used = quota_table.used(session, quota.id)
    quota_table.resize(
        session,
        quota,
        size=max(quota.size, used),
        used_seats=used,
        is_closed=shards.is_closed,
    )


def find_drifts(session: Session) -> list[Drift]:
    return [Drift(*row) for row in session.execute(_DRIFTS).all()]


def repair_event(session: Session, event_id: int) -> None:
    """Rewrite the event's shards and users' counts from its bookings, with every
    shard locked so no booking or cancellation moves meanwhile."""
    event_table.lock_for_admin_write(session, event_id)
    shard_count = len(event_table.lock_seats(session, event_id))
    (total, confirmed) = session.execute(
        text(
            "SELECT e.total_seats, (SELECT coalesce(sum(seats_booked), 0) FROM bookings b "
            "WHERE b.event_id = e.id AND b.status IN ('confirmed', 'held')) "
            "FROM events e WHERE e.id = :id"
        ),
        {"id": event_id},
    ).one()
    event_table.set_seats(
        session, event_id, event_table.spread(total - confirmed, shard_count)
    )
    session.execute(_USERS_FROM_BOOKINGS, {"event_id": event_id})


def _try_lock(session: Session) -> bool:
    return bool(
        session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": RECONCILE_LOCK_ID}
        )
    )


def _wait_for_lock(session: Session) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(:id)"), {"id": RECONCILE_LOCK_ID}
    )


def reconcile_seats(open_session: SessionOpener, *, repair: bool) -> dict[str, object]:
    with open_session() as session:
        if not _try_lock(session):
            logger.info("reconcile-seats is running elsewhere: skipped")
            return {"skipped": True}
        drifts = find_drifts(session)
        quota_drifts = find_quota_drifts(session)
    for drift in drifts:
        logger.warning("seat drift on an event", extra=asdict(drift))
    if drifts:
        count("SeatDrift", len(drifts))
    for quota_drift in quota_drifts:
        logger.warning("seat drift on a quota", extra=asdict(quota_drift))
    if quota_drifts:
        count("QuotaDrift", len(quota_drifts))
    if repair:
        for drift in drifts:
            with open_session() as session:
                _wait_for_lock(session)
                repair_event(session, drift.event_id)
                session.commit()
            logger.info("seat drift repaired", extra={"event_id": drift.event_id})
        for quota_drift in quota_drifts:
            with open_session() as session:
                _wait_for_lock(session)
                repair_quota(session, quota_drift)
                session.commit()
            logger.info(
                "quota drift repaired", extra={"quota_id": quota_drift.quota_id}
            )
    return {
        "drifts": [asdict(drift) for drift in drifts],
        "quota_drifts": [asdict(drift) for drift in quota_drifts],
        "repaired": (len(drifts) + len(quota_drifts)) if repair else 0,
    }
