"""Users, tokens and events for the benchmarks, written straight into the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from benchmarks.environment import SECRET_KEY
from ticketmania.db.engine import get_engine, open_session
from ticketmania.db.events import insert_event
from ticketmania.security import issue_access_token


def _contiguous(ids: list[int], what: str) -> list[int]:
    if ids != list(range(ids[0], ids[0] + len(ids))):
        raise RuntimeError(f"{what}: ids are not contiguous, pgbench cannot pick them")
    return ids


def create_users(count: int) -> list[int]:
    """`count` users with contiguous ids (pgbench picks them by range)."""
    with get_engine().begin() as connection:
        ids = connection.scalars(
            text(
                "INSERT INTO users (name, email, password_hash) "
                "SELECT 'bench ' || n, 'bench-' || n || '-' || gen_random_uuid() || '@example.com', 'x' "
                "FROM generate_series(1, :n) AS n ORDER BY n RETURNING id"
            ),
            {"n": count},
        ).all()
    return _contiguous(sorted(int(i) for i in ids), "users")


def token(user_id: int) -> str:
    return issue_access_token(
        user_id=user_id,
        role="user",
        token_version=0,
        secret=SECRET_KEY,
        lifetime=timedelta(hours=2),
        now=datetime.now(UTC),
    )


def create_event(*, total_seats: int, title: str = "Bench") -> int:
    """An event as the product creates it: seats spread over its shards
    (64 shards from 640 seats up)."""
    with open_session() as session:
        event = insert_event(
            session,
            title=title,
            location="Benchmark Hall",
            event_date=datetime.now(UTC) + timedelta(days=30),
            total_seats=total_seats,
        )
        session.commit()
        return int(event.id)


def create_events(count: int, *, total_seats: int, title: str) -> list[int]:
    return _contiguous(
        [create_event(total_seats=total_seats, title=title) for _ in range(count)],
        title,
    )


def create_one_row_events(count: int, *, seats: int) -> list[int]:
    """Events of the old design's shape: all seats in ONE row (shard 0)."""
    with get_engine().begin() as connection:
        ids = connection.scalars(
            text(
                """
                WITH event AS (
                  INSERT INTO events (title, location, event_date, total_seats, shard_count)
                  SELECT 'One row ' || n, 'Benchmark Hall', now() + interval '30 days', :seats, 1
                  FROM generate_series(1, :n) AS n ORDER BY n
                  RETURNING id
                ), shard AS (
                  INSERT INTO seat_shards (event_id, shard, available)
                  SELECT id, 0, :seats FROM event
                )
                SELECT id FROM event
                """
            ),
            {"n": count, "seats": seats},
        ).all()
    return _contiguous(sorted(int(i) for i in ids), "one-row events")


def seats_of(event_id: int) -> tuple[int, int, int]:
    """(confirmed seats booked, unsold seats in the shards, seats counted per user)."""
    with get_engine().connect() as connection:
        booked, unsold, counted = connection.execute(
            text(
                """
                SELECT
                  (SELECT coalesce(sum(seats_booked), 0) FROM bookings
                   WHERE event_id = :e AND status = 'confirmed'),
                  (SELECT coalesce(sum(available), 0) FROM seat_shards WHERE event_id = :e),
                  (SELECT coalesce(sum(seats), 0) FROM user_event_seats WHERE event_id = :e)
                """
            ),
            {"e": event_id},
        ).one()
    return int(booked), int(unsold), int(counted)


def bookings_of(event_ids: list[int]) -> int:
    with get_engine().connect() as connection:
        return int(
            connection.scalar(
                text("SELECT count(*) FROM bookings WHERE event_id = ANY(:ids)"),
                {"ids": event_ids},
            )
        )
