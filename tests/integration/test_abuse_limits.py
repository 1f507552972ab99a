"""What keeps a client from abusing the API: request-rate limits (429 at the
threshold, others unaffected, open when Redis is down), tokens that name their
audience, headers that keep responses out of caches and browsers' guesses,
and CORS only for the origins configured."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    DEFAULT_PASSWORD,
    auth_header,
    book,
    create_event,
    make_admin,
    unique_email,
    user_token,
)
from tests.integration.conftest import TEST_SECRET_KEY
from tests.services import free_port
from ticketmania.cache import Cache, build_redis
from ticketmania.security import key_ring
from ticketmania.settings import get_settings


@pytest.fixture
def limits(monkeypatch):
    def set_limits(*, signup="100000/second", booking="100000/second"):
        monkeypatch.setattr(get_settings(), "rate_limit_signup", signup)
        monkeypatch.setattr(get_settings(), "rate_limit_booking", booking)

    return set_limits


def sign_up(client):
    return client.post(
        "/auth/signup",
        json={"name": "N", "email": unique_email(), "password": DEFAULT_PASSWORD},
        headers={"x-forwarded-for": "198.51.100.1"},  # never believed
    )


def test_signups_are_limited_per_client_address(client, limits):
    limits(signup="3/hour")
    answers = [sign_up(client) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert answers[0].headers["RateLimit-Remaining"] == "2"
    # Another address (another client's socket) is unaffected.
    with TestClient(client.app, client=("192.0.2.44", 5000)) as other:
        assert sign_up(other).status_code == 201


def test_bookings_are_limited_per_user(client, limits):
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=100)
    _, bot = user_token(client)
    _, human = user_token(client)
    limits(booking="2/minute")
    answers = [book(client, bot, event["id"], 1) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) <= 60
    assert book(client, human, event["id"], 1).status_code == 201
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 97


def test_limits_fail_open_when_redis_is_down(client, limits, monkeypatch):
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("ticketmania.web.limits.get_cache", lambda: dead)
    limits(signup="1/hour")
    assert [sign_up(client).status_code for _ in range(3)] == [201, 201, 201]


@pytest.mark.parametrize("spec", ["10/day", "ten/hour", "0/minute", "5"])
def test_a_bad_limit_setting_is_refused(monkeypatch, spec):
    from ticketmania.settings import ConfigurationError, load_settings

    monkeypatch.setenv("RATE_LIMIT_BOOKING", spec)
    with pytest.raises(ConfigurationError, match="rate_limit_booking"):
        load_settings()


# --- tokens ------------------------------------------------------------------------------------


def forged(**claims):
    ((kid, key),) = key_ring(TEST_SECRET_KEY).items()
    now = datetime.now(UTC)
    payload = {
        "iss": "ticketmania",
        "aud": "ticketmania-api",
        "sub": "1",
        "ver": 0,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid})


@pytest.mark.parametrize(
    "claims", [{"aud": "billing-api"}, {"aud": None}, {"iss": "elsewhere"}]
)
def test_a_token_for_another_audience_is_refused_by_the_api(client, claims):
    make_admin(client)  # user 1 exists
    assert client.get("/auth/me", headers=auth_header(forged())).status_code == 200
    response = client.get("/auth/me", headers=auth_header(forged(**claims)))
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


# --- headers -----------------------------------------------------------------------------------


def test_login_answers_are_never_cached(client):
    user, token = user_token(client)
    issued = client.post(
        "/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert issued.headers["Cache-Control"] == "no-store"
    refused = client.post(
        "/auth/login", json={"email": unique_email(), "password": "wrong password"}
    )
    assert refused.headers["Cache-Control"] == "no-store"
    me = client.get("/auth/me", headers=auth_header(token))
    assert me.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/events"),
        ("GET", "/events/999"),
        ("POST", "/bookings"),
        ("GET", "/nowhere"),
        ("PUT", "/events"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ],
)
def test_every_response_says_nosniff(client, method, path):
    response = client.request(method, path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_405_says_which_methods_are_allowed(client):
    response = client.put("/events")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_cors_only_for_the_configured_origins(monkeypatch):
    from localdev.gateway import gateway_for
    from tests.conftest import ROOT

    monkeypatch.setattr(get_settings(), "cors_allow_origins", "https://tickets.example")
    with TestClient(gateway_for(ROOT)) as browser:
        allowed = browser.options(
            "/events",
            headers={
                "Origin": "https://tickets.example",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert (
            allowed.headers["access-control-allow-origin"] == "https://tickets.example"
        )
        listed = browser.get("/events", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in listed.headers
        # template.yaml's rules: a page's script may read the list headers.
        listed = browser.get("/events", headers={"Origin": "https://tickets.example"})
        exposed = listed.headers["access-control-expose-headers"]
        assert "X-Total-Count" in exposed and "RateLimit-Reset" in exposed


def test_no_cors_by_default(client):
    listed = client.get("/events", headers={"Origin": "https://tickets.example"})
    assert "access-control-allow-origin" not in listed.headers
