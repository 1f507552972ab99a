"""Builders for test data, through the real API or the real database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from ticketmania.db import users
from ticketmania.db.engine import get_engine, open_session
from ticketmania.security import hash_password

DEFAULT_PASSWORD = "correct horse battery"
_serial = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_serial)}@example.com"


def signup(
    client: TestClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    name: str = "Test User",
) -> dict[str, Any]:
    response = client.post(
        "/auth/signup",
        json={"name": name, "email": email or unique_email(), "password": password},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def login(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> str:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(
    client: TestClient, *, email: str | None = None
) -> tuple[dict[str, Any], str]:
    user = signup(client, email=email)
    return user, login(client, user["email"])


def make_admin(client: TestClient) -> tuple[int, str]:
    """An admin as `ticketmania create-admin` makes one; returns (id, token)."""
    email = unique_email("admin")
    with open_session() as session:
        admin = users.insert_user(
            session,
            name="Admin",
            email=email,
            password_hash=hash_password(DEFAULT_PASSWORD),
            role="admin",
        )
        session.commit()
        admin_id = admin.id
    return admin_id, login(client, email)


def future(days: float = 30) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Concert",
        "description": "A night of music",
        "location": "Berlin",
        "event_date": future(),
        "total_seats": 50,
    }
    body.update(overrides)
    return body


def create_event(
    client: TestClient, admin_token: str, **overrides: Any
) -> dict[str, Any]:
    response = client.post(
        "/events", json=event_body(**overrides), headers=auth_header(admin_token)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def book(
    client: TestClient,
    token: str,
    event_id: int,
    seats: int = 1,
    *,
    key: str | None = None,
) -> Any:
    headers = auth_header(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/bookings", json={"event_id": event_id, "seats_booked": seats}, headers=headers
    )


# --- behind the API: seats and events written as the data layer would ----------------


@contextmanager
def loading_connection() -> Iterator[Connection]:
    """A transaction for loading test data, outside the app's statement and lock
    timeouts (5 s and 2 s): seeding 100,000 rows on a loaded machine must not
    fail a test that is about something else."""
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        yield connection


def take_seats_directly(event_id: int, seats: int) -> None:
    """Take seats without a booking or a cache bump, one at a time from the fullest shard."""
    with get_engine().begin() as connection:
        for _ in range(seats):
            connection.execute(
                text(
                    "UPDATE seat_shards SET available = available - 1 "
                    "WHERE event_id = :id AND shard = (SELECT shard FROM seat_shards "
                    "  WHERE event_id = :id ORDER BY available DESC, shard LIMIT 1)"
                ),
                {"id": event_id},
            )


def insert_event_directly(
    connection: Connection, *, event_date_sql: str, total: int, title: str = "E"
) -> int:
    """An event inserted in SQL (a past one, say, which the API refuses), all seats
    unsold in one shard."""
    event_id = connection.scalar(
        text(
            "INSERT INTO events (title, location, event_date, total_seats) "
            f"VALUES (:title, 'L', {event_date_sql}, :total) RETURNING id"
        ),
        {"title": title, "total": total},
    )
    connection.execute(
        text(
            "INSERT INTO seat_shards (event_id, shard, available) VALUES (:id, 0, :n)"
        ),
        {"id": event_id, "n": total},
    )
    connection.execute(
        text(
            "INSERT INTO ticket_types (event_id, name, price_minor, is_default) "
            "VALUES (:id, 'Admission', 0, true)"
        ),
        {"id": event_id},
    )
    return int(event_id)


@dataclass
class SeatBooks:
    total: int
    available: int
    is_cancelled: bool
    confirmed: int
    # Seats of holds not settled yet (ended or not): still out of the shards.
    held: int = 0


def seat_books(event_id: int) -> SeatBooks:
    """An event's seats as the database has them: the total, the unsold seats in its
    shards, and the seats of its confirmed bookings."""
    with get_engine().connect() as connection:
        row = connection.execute(
            text(
                "SELECT e.total_seats, "
                "  (SELECT coalesce(sum(available), 0) FROM seat_shards s WHERE s.event_id = e.id), "
                "  e.cancelled_at IS NOT NULL, "
                "  (SELECT coalesce(sum(seats_booked), 0) FROM bookings b "
                "   WHERE b.event_id = e.id AND b.status = 'confirmed'), "
                "  (SELECT coalesce(sum(seats_booked), 0) FROM bookings b "
                "   WHERE b.event_id = e.id AND b.status = 'held') "
                "FROM events e WHERE e.id = :id"
            ),
            {"id": event_id},
        ).one()
    return SeatBooks(
        total=row[0],
        available=int(row[1]),
        is_cancelled=row[2],
        confirmed=int(row[3]),
        held=int(row[4]),
    )


def create_ticket_type(
    client: TestClient, admin_token: str, event_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Standard", "price_minor": 2500, **fields}
    response = client.post(
        f"/events/{event_id}/ticket-types", json=body, headers=auth_header(admin_token)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def create_quota(
    client: TestClient,
    admin_token: str,
    event_id: int,
    *,
    size: int,
    ticket_type_ids: list[int],
    **fields: Any,
) -> dict[str, Any]:
    body = {"name": "Quota", "size": size, "ticket_type_ids": ticket_type_ids, **fields}
    response = client.post(
        f"/events/{event_id}/quotas", json=body, headers=auth_header(admin_token)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def order(
    client: TestClient,
    token: str,
    event_id: int,
    lines: list[tuple[int, int]],
    *,
    hold: bool = False,
    key: str | None = None,
) -> Any:
    """POST /orders of (ticket_type_id, quantity) lines."""
    headers = auth_header(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    body: dict[str, Any] = {
        "event_id": event_id,
        "lines": [{"ticket_type_id": t, "quantity": q} for t, q in lines],
    }
    if hold:
        body["hold"] = True
    return client.post("/orders", json=body, headers=headers)


@dataclass
class QuotaBooks:
    quota_id: int
    size: int
    unsold: int
    closed: bool
    # Seats its confirmed orders and its holds (settled or not) took.
    used: int


def quota_books(event_id: int) -> list[QuotaBooks]:
    """Each quota of the event as the database has it."""
    with get_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT q.id, q.size, "
                "  (SELECT coalesce(sum(available), 0) FROM quota_shards s WHERE s.quota_id = q.id), "
                "  (SELECT coalesce(bool_or(closed), false) FROM quota_shards s WHERE s.quota_id = q.id), "
                "  (SELECT coalesce(sum(k.seats), 0) FROM booking_quota_takes k "
                "   JOIN bookings b ON b.id = k.booking_id "
                "   WHERE k.quota_id = q.id AND b.status IN ('confirmed', 'held')) "
                "FROM quotas q WHERE q.event_id = :id ORDER BY q.id"
            ),
            {"id": event_id},
        ).all()
    return [
        QuotaBooks(int(r[0]), int(r[1]), int(r[2]), bool(r[3]), int(r[4])) for r in rows
    ]


def assert_quotas_balance(event_id: int) -> list[QuotaBooks]:
    """For every quota: used <= size, and (unless closed) unsold = size - used;
    each order's lines agree with its seats and total, and each take is its
    line's quantity."""
    books = quota_books(event_id)
    for quota in books:
        assert quota.used <= quota.size, quota
        if quota.closed:
            assert quota.unsold == 0, quota
        else:
            assert quota.unsold == quota.size - quota.used, quota
    with get_engine().connect() as connection:
        wrong = connection.execute(
            text(
                "SELECT b.id FROM bookings b WHERE b.event_id = :id AND ("
                "  b.seats_booked <> (SELECT coalesce(sum(quantity), b.seats_booked) "
                "                     FROM order_lines l WHERE l.booking_id = b.id)"
                # The total is of every line it was made with (one cancelled
                # since included: its refund says what it gave back).
                "  OR b.total_minor <> coalesce((SELECT sum(quantity * unit_price_minor) "
                "     FROM booking_lines l WHERE l.booking_id = b.id), "
                "     b.unit_price_minor * b.seats_booked, 0)"
                "  OR EXISTS (SELECT 1 FROM booking_quota_takes k "
                "             WHERE k.booking_id = b.id AND k.seats IS DISTINCT FROM "
                "             (SELECT l.quantity FROM order_lines l WHERE l.booking_id = b.id "
                "              AND l.ticket_type_id = k.ticket_type_id)))"
            ),
            {"id": event_id},
        ).all()
    assert wrong == [], wrong
    return books
