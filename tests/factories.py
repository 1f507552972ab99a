"""Builders for test data, through the real API or the real database."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

from ticketmania.db import users
from ticketmania.db.engine import open_session
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
