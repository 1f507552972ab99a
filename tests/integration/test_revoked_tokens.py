"""A token revoked by a password change is refused everywhere: 401
invalid_token on every route, before any shortcut (a replay, the sold-out
marker, the rate limit), and it spends nobody's allowance."""

import re
import uuid

import pytest

from tests.conftest import ROOT
from tests.factories import (
    DEFAULT_PASSWORD,
    auth_header,
    book,
    create_event,
    login,
    user_token,
)
from ticketmania.settings import get_settings

# Routes anyone may call: a token, revoked or not, is not asked for.
PUBLIC = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("GET", "/health"),
    ("GET", "/events"),
    ("GET", "/events/{id}"),
    ("GET", "/tickets/keys"),
    ("GET", "/events/{id}/ticket-types"),
    ("POST", "/payments/stripe/webhook"),  # Stripe's, signed: no token
    ("GET", "/events/{id}/queue"),  # how far a waiting room's queue has come
}


def declared_routes():
    from localdev.template import read_functions

    return sorted(
        (route.method, route.path)
        for spec in read_functions(ROOT / "template.yaml")
        for route in spec.routes
    )


def revoke(client, email, token):
    """Change the user's password: every token issued before dies."""
    response = client.post(
        "/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a new password"},
        headers=auth_header(token),
    )
    assert response.status_code == 204, response.text
    return login(client, email, "a new password")


@pytest.fixture
def revoked(client, admin):
    """A user with a booking (made under a key), a revoked token and a fresh one."""
    user, old = user_token(client)
    event = create_event(client, admin, total_seats=100)
    key = str(uuid.uuid4())
    booking = book(client, old, event["id"], 2, key=key).json()
    fresh = revoke(client, user["email"], old)
    return {"old": old, "fresh": fresh, "event": event, "booking": booking, "key": key}


def test_every_route_that_takes_a_token_refuses_a_revoked_one(client, revoked):
    bodies = {
        ("POST", "/bookings"): {"event_id": revoked["event"]["id"], "seats_booked": 1},
        ("POST", "/events"): {
            "title": "T",
            "location": "L",
            "event_date": "2031-01-01T00:00:00Z",
            "total_seats": 5,
        },
        ("PATCH", "/events/{id}"): {"title": "T"},
        ("POST", "/checkins"): {"code": "not even a code"},
        ("POST", "/events/{id}/waitlist"): {"seats": 1},
        ("POST", "/orders"): {
            "event_id": revoked["event"]["id"],
            "lines": [{"ticket_type_id": 1, "quantity": 1}],
        },
        ("POST", "/events/{id}/ticket-types"): {"name": "VIP", "price_minor": 1},
        ("PATCH", "/ticket-types/{id}"): {"price_minor": 2},
        ("POST", "/events/{id}/quotas"): {
            "name": "Q",
            "size": 1,
            "ticket_type_ids": [],
        },
        ("PATCH", "/quotas/{id}"): {"size": 2},
        ("POST", "/orders/{id}/payments"): {"provider": "stripe"},
        ("POST", "/orders/{id}/refunds"): {"amount_minor": 1},
        ("POST", "/auth/password"): {
            "current_password": "a new password",
            "new_password": "another password",
        },
    }
    checked = []
    for method, path in declared_routes():
        if (method, path) in PUBLIC:
            continue
        # {id} is the event's under /events, the booking's under /bookings.
        owner = revoked["event"] if path.startswith("/events/") else revoked["booking"]
        url = re.sub(r"\{id\}", str(owner["id"]), path).replace("{line_id}", "1")
        response = client.request(
            method,
            url,
            json=bodies.get((method, path)),
            headers=auth_header(revoked["old"]),
        )
        assert (response.status_code, response.json()["code"]) == (
            401,
            "invalid_token",
        ), (method, path, response.text)
        checked.append((method, path))
    assert ("POST", "/bookings") in checked
    # The fresh token still works, and nothing above changed anything.
    me = client.get("/auth/me", headers=auth_header(revoked["fresh"]))
    assert me.status_code == 200


def test_a_revoked_token_cannot_replay_its_key(client, revoked):
    replay = book(client, revoked["old"], revoked["event"]["id"], 2, key=revoked["key"])
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_token")
    # The owner's fresh token replays it.
    again = book(
        client, revoked["fresh"], revoked["event"]["id"], 2, key=revoked["key"]
    )
    assert (again.status_code, again.json()["id"]) == (200, revoked["booking"]["id"])


def test_a_revoked_token_is_refused_on_a_sold_out_event(client, admin):
    user, old = user_token(client)
    event = create_event(client, admin, total_seats=2)
    _, other = user_token(client)
    assert book(client, other, event["id"], 2).status_code == 201
    # The marker goes up on the first refusal.
    assert book(client, other, event["id"], 1).json()["code"] == "sold_out"
    fresh = revoke(client, user["email"], old)
    refused = book(client, old, event["id"], 1)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
    assert book(client, fresh, event["id"], 1).json()["code"] == "sold_out"


def test_a_revoked_token_spends_no_allowance(client, admin, monkeypatch):
    user, old = user_token(client)
    event = create_event(client, admin, total_seats=100)
    fresh = revoke(client, user["email"], old)
    monkeypatch.setattr(get_settings(), "rate_limit_booking", "3/minute")
    for _ in range(10):
        refused = book(client, old, event["id"], 1)
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
    answer = book(client, fresh, event["id"], 1)
    assert answer.status_code == 201, answer.text
    assert answer.headers["RateLimit-Remaining"] == "2"


def test_a_revoked_token_is_refused_when_redis_forgot_every_version(client, revoked):
    from ticketmania.cache import get_cache

    get_cache().client.flushdb()
    replay = book(client, revoked["old"], revoked["event"]["id"], 2, key=revoked["key"])
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_token")
    assert book(client, revoked["fresh"], revoked["event"]["id"], 1).status_code == 201


def test_a_revoked_token_is_refused_with_redis_down(client, revoked, monkeypatch):
    from tests.services import free_port
    from ticketmania.cache import Cache, build_redis

    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("bookings.routes.get_cache", lambda: dead)
    replay = book(client, revoked["old"], revoked["event"]["id"], 2, key=revoked["key"])
    assert (replay.status_code, replay.json()["code"]) == (401, "invalid_token")
    assert book(client, revoked["fresh"], revoked["event"]["id"], 1).status_code == 201
