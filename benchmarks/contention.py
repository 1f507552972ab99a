"""Booking under contention: the production transaction (one guarded UPDATE ...
WHERE available_seats >= n takes the seats and the lock) against the alternative
docs/architecture.md weighs it against, SELECT ... FOR UPDATE first. Both bare variants run the
same other statements, written the same way, so only the locking differs; the
production `book_seats()` runs beside them to show what its Python costs.
Successful bookings use an event with plenty of seats, refusals one with none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from bookings.logic import book_seats
from ticketmania.db import bookings as booking_data
from ticketmania.db.engine import get_engine, open_session
from ticketmania.errors import SoldOut
from ticketmania.security import TokenClaims


def _params(claims: TokenClaims, event_id: int) -> dict[str, object]:
    """One seat for this client: the parameters every bare statement below takes."""
    return {
        "event_id": event_id,
        "user_id": claims.user_id,
        "seats": 1,
        "now": datetime.now(UTC),
        "version": claims.token_version,
    }


_TAKE_GUARDED = text(
    """
    UPDATE events SET available_seats = available_seats - :seats, updated_at = now()
    WHERE id = :event_id AND available_seats >= :seats
      AND cancelled_at IS NULL AND event_date > :now
      AND EXISTS (SELECT 1 FROM users WHERE id = :user_id AND token_version = :version)
    RETURNING id
    """
)
_WRITE_AFTER_TAKE = text(
    """
    WITH booking AS (
      INSERT INTO bookings (user_id, event_id, seats_booked, status)
      VALUES (:user_id, :event_id, :seats, 'confirmed')
      RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT 'booking.confirmed', jsonb_build_object(
        'booking_id', id, 'user_id', user_id, 'event_id', event_id,
        'seats_booked', seats_booked)
      FROM booking
    )
    SELECT booking.* FROM booking
    """
)


def book_guarded(session: Session, claims: TokenClaims, event_id: int) -> None:
    """The production statements: one guarded UPDATE takes the seats and the lock."""
    params = _params(claims, event_id)
    if session.scalar(_TAKE_GUARDED, params) is None:
        raise SoldOut()  # a further query would be needed to say why
    booking_data.read_user_event_state(
        session, user_id=claims.user_id, event_id=event_id, idempotency_key=None
    )
    session.execute(_WRITE_AFTER_TAKE, params).mappings().one()
    session.commit()


_LOCK = text(
    """
    SELECT available_seats, cancelled_at IS NULL AND event_date > :now,
           (SELECT token_version FROM users WHERE id = :user_id)
    FROM events WHERE id = :event_id FOR UPDATE
    """
)
_WRITE_WITH_TAKE = text(
    """
    WITH taken AS (
      UPDATE events SET available_seats = available_seats - :seats, updated_at = now()
      WHERE id = :event_id RETURNING id
    ), booking AS (
      INSERT INTO bookings (user_id, event_id, seats_booked, status)
      SELECT :user_id, id, :seats, 'confirmed' FROM taken
      RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at
    ), message AS (
      INSERT INTO outbox (topic, payload)
      SELECT 'booking.confirmed', jsonb_build_object(
        'booking_id', id, 'user_id', user_id, 'event_id', event_id,
        'seats_booked', seats_booked)
      FROM booking
    )
    SELECT booking.* FROM booking
    """
)


def book_for_update(session: Session, claims: TokenClaims, event_id: int) -> None:
    """SELECT ... FOR UPDATE first, the seat UPDATE folded into the write, written
    exactly like book_guarded so that only the locking differs."""
    params = _params(claims, event_id)
    available, is_open, version = session.execute(_LOCK, params).one()
    if available < 1 or not is_open or version != claims.token_version:
        raise SoldOut()
    booking_data.read_user_event_state(
        session, user_id=claims.user_id, event_id=event_id, idempotency_key=None
    )
    session.execute(_WRITE_WITH_TAKE, params).mappings().one()
    session.commit()


_REFUSAL_FACTS = text(
    """
    SELECT e.available_seats, e.cancelled_at IS NULL AND e.event_date > :now,
           (SELECT token_version FROM users WHERE id = :user_id)
    FROM events AS e WHERE e.id = :event_id
    """
)


def refuse_guarded(session: Session, claims: TokenClaims, event_id: int) -> None:
    """A sold-out event, guarded UPDATE: it matches nothing (and locks nothing),
    then one plain read says why."""
    params = _params(claims, event_id)
    assert session.scalar(_TAKE_GUARDED, params) is None
    session.execute(_REFUSAL_FACTS, params).one()
    session.rollback()


def refuse_for_update(session: Session, claims: TokenClaims, event_id: int) -> None:
    """A sold-out event, FOR UPDATE: the refusal takes the lock, reads the user's
    seats and key (a retry must be answered even when sold out), rolls back."""
    params = _params(claims, event_id)
    session.execute(_LOCK, params).one()
    booking_data.read_user_event_state(
        session, user_id=claims.user_id, event_id=event_id, idempotency_key=None
    )
    session.rollback()


def book_production(session: Session, claims: TokenClaims, event_id: int) -> None:
    book_seats(
        session,
        claims=claims,
        event_id=event_id,
        seats=1,
        idempotency_key=None,
        max_seats_per_user=100_000,
        now=datetime.now(UTC),
    )


def _setup(users: int, seats: int) -> tuple[int, list[TokenClaims]]:
    with get_engine().begin() as connection:
        event_id = connection.scalar(
            text(
                "INSERT INTO events (title, location, event_date, total_seats, available_seats) "
                "VALUES ('Hot', 'Here', now() + interval '30 days', 1000000, :seats) RETURNING id"
            ),
            {"seats": seats},
        )
        ids = connection.scalars(
            text(
                "INSERT INTO users (name, email, password_hash) "
                "SELECT 'u', 'bench' || n || '-' || gen_random_uuid() || '@x.com', 'x' FROM generate_series(1, :n) n "
                "RETURNING id"
            ),
            {"n": users},
        ).all()
    return int(event_id), [
        TokenClaims(user_id=i, role="user", token_version=0) for i in ids
    ]


def run(
    strategy: Callable[[Session, TokenClaims, int], None],
    *,
    threads: int,
    seconds: float,
    seats: int,
) -> float:
    """Requests per second that `threads` clients complete on one event."""
    event_id, claims = _setup(threads, seats)
    done = [0] * threads
    stop = threading.Event()

    def client(index: int) -> None:
        while not stop.is_set():
            with open_session() as session:
                strategy(session, claims[index], event_id)
            done[index] += 1

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(client, i) for i in range(threads)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    return sum(done) / seconds


Strategy = Callable[[Session, TokenClaims, int], None]

# name: (what each client runs, the event's seats: plenty to book, or none left)
STRATEGIES: dict[str, tuple[Strategy, int]] = {
    "guarded": (book_guarded, 1_000_000),
    "for_update": (book_for_update, 1_000_000),
    "production": (book_production, 1_000_000),
    "refuse_guarded": (refuse_guarded, 0),
    "refuse_for_update": (refuse_for_update, 0),
}


def measure(*, threads: int, seconds: float, rounds: int) -> dict[str, float]:
    """Median requests/s of each strategy, the strategies alternating round by round."""
    results: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    for _ in range(rounds):
        for name, (strategy, seats) in STRATEGIES.items():
            results[name].append(
                run(strategy, threads=threads, seconds=seconds, seats=seats)
            )
    return {name: sorted(values)[len(values) // 2] for name, values in results.items()}
