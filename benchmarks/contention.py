"""Booking under contention: the production transaction (one guarded UPDATE takes
the seats and the lock) against the alternative ARCHITECTURE.md names, SELECT ...
FOR UPDATE first, written as tightly as the production path (Core statements,
the seat UPDATE folded into the write), both run by the same threads on one hot
event."""

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
from ticketmania.db import events
from ticketmania.db.engine import get_engine, open_session
from ticketmania.errors import SoldOut
from ticketmania.security import TokenClaims


def book_guarded(session: Session, claims: TokenClaims, event_id: int) -> None:
    """The production statements, without the logic's Python around them."""
    if not events.take_seats(
        session,
        event_id=event_id,
        seats=1,
        user_id=claims.user_id,
        token_version=claims.token_version,
        now=datetime.now(UTC),
    ):
        raise SoldOut()
    booking_data.read_user_event_state(
        session, user_id=claims.user_id, event_id=event_id, idempotency_key=None
    )
    booking_data.write_booking(
        session,
        user_id=claims.user_id,
        event_id=event_id,
        seats=1,
        idempotency_key=None,
        request_hash=None,
    )
    session.commit()


def book_for_update(session: Session, claims: TokenClaims, event_id: int) -> None:
    """The production statements (FOR UPDATE first), without the logic's Python."""
    event = events.lock_event_for_booking(
        session, event_id=event_id, user_id=claims.user_id, now=datetime.now(UTC)
    )
    if event is None or event.available_seats < 1 or not event.is_open:
        raise SoldOut()
    booking_data.read_user_event_state(
        session, user_id=claims.user_id, event_id=event_id, idempotency_key=None
    )
    booking_data.write_booking(
        session,
        user_id=claims.user_id,
        event_id=event_id,
        seats=1,
        idempotency_key=None,
        request_hash=None,
    )
    session.commit()


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


def _setup(users: int) -> tuple[int, list[TokenClaims]]:
    with get_engine().begin() as connection:
        event_id = connection.scalar(
            text(
                "INSERT INTO events (title, location, event_date, total_seats, available_seats) "
                "VALUES ('Hot', 'Here', now() + interval '30 days', 1000000, 1000000) RETURNING id"
            )
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
) -> float:
    """Bookings per second that `threads` clients complete on one event."""
    event_id, claims = _setup(threads)
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


STRATEGIES: dict[str, Callable[[Session, TokenClaims, int], None]] = {
    "guarded": book_guarded,
    "for_update": book_for_update,
    "production": book_production,
}


def measure(*, threads: int, seconds: float, rounds: int) -> dict[str, float]:
    """Median bookings/s of each strategy, the strategies alternating round by round."""
    results: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    for _ in range(rounds):
        for name, strategy in STRATEGIES.items():
            results[name].append(run(strategy, threads=threads, seconds=seconds))
    return {name: sorted(values)[len(values) // 2] for name, values in results.items()}
