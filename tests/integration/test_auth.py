"""Every auth rule of docs/api.md, through HTTP on the local gateway."""

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import delete

from tests.factories import (
    DEFAULT_PASSWORD,
    auth_header,
    login,
    signup,
    unique_email,
    user_token,
)
from tests.integration.conftest import TEST_SECRET_KEY
from tests.lambda_events import invoke, load_event, with_overrides
from ticketmania.db.engine import open_session
from ticketmania.db.models import User
from ticketmania.security import issue_access_token
from ticketmania.settings import get_settings


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


# --- signup ---------------------------------------------------------------------------------


def test_signup_creates_a_user_with_role_user(client):
    response = client.post(
        "/auth/signup",
        json={"name": "Ada", "email": "ada@example.com", "password": "longenough"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "email", "role", "created_at"}
    assert body["role"] == "user"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)


def test_signup_stores_email_lower_cased(client):
    assert (
        signup(client, email="Grace.Hopper@Example.COM")["email"]
        == "grace.hopper@example.com"
    )


@pytest.mark.parametrize(
    "second", ["ada@example.com", "ADA@example.com", "Ada@Example.Com"]
)
def test_duplicate_email_is_a_conflict_case_insensitively(client, second):
    signup(client, email="ada@example.com")
    response = client.post(
        "/auth/signup", json={"name": "Ada", "email": second, "password": "longenough"}
    )
    assert_error(response, 409, "email_taken")


def test_role_in_the_body_grants_nothing(client):
    response = client.post(
        "/auth/signup",
        json={
            "name": "Mallory",
            "email": "m@example.com",
            "password": "longenough",
            "role": "admin",
            "is_admin": True,
        },
    )
    assert response.status_code == 201
    assert response.json()["role"] == "user"
    token = login(client, "m@example.com", "longenough")
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "user"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "email": "a@example.com", "password": "longenough"},
        {"name": "   ", "email": "a@example.com", "password": "longenough"},
        {"name": "x" * 101, "email": "a@example.com", "password": "longenough"},
        {"name": "Ada", "email": "not-an-email", "password": "longenough"},
        {"name": "Ada", "email": "a@", "password": "longenough"},
        {"name": "Ada", "email": "a@example.com", "password": "short"},
        {"name": "Ada", "email": "a@example.com", "password": "x" * 129},
        {"name": "Ada", "email": "a@example.com"},
        {"email": "a@example.com", "password": "longenough"},
        {"name": 5, "email": "a@example.com", "password": "longenough"},
        {"name": "Ada", "email": "a@example.com", "password": 12345678},
        {"name": None, "email": None, "password": None},
        [],
        "text",
        {},
    ],
)
def test_bad_signup_input_is_a_422_with_code(client, body):
    response = client.post("/auth/signup", json=body)
    assert_error(response, 422, "validation_error")
    assert isinstance(response.json()["detail"], list)


def test_validation_errors_never_echo_the_password(client):
    response = client.post(
        "/auth/signup",
        json={"name": "Ada", "email": "a@example.com", "password": "secret1"},
    )
    assert response.status_code == 422
    assert "secret1" not in response.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("{broken", "application/json"),
        ("", "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_broken_json_is_a_422(client, content, content_type):
    response = client.post(
        "/auth/signup", content=content, headers={"content-type": content_type}
    )
    assert_error(response, 422, "validation_error")


def test_boundary_lengths_are_accepted(client):
    response = client.post(
        "/auth/signup",
        json={"name": "x" * 100, "email": unique_email(), "password": "p" * 128},
    )
    assert response.status_code == 201
    assert (
        client.post(
            "/auth/signup",
            json={"name": "x", "email": unique_email(), "password": "p" * 8},
        ).status_code
        == 201
    )


# --- login ----------------------------------------------------------------------------------


def test_login_with_json_returns_a_bearer_token_and_the_user(client):
    user = signup(client)
    response = client.post(
        "/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["user"] == user
    assert (
        client.get("/auth/me", headers=auth_header(body["access_token"])).json() == user
    )


def test_login_with_the_oauth2_form_works(client):
    user = signup(client)
    response = client.post(
        "/auth/login", data={"username": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user["id"]


def test_login_email_is_case_insensitive(client):
    user = signup(client, email="case@example.com")
    assert login(client, "CASE@Example.com")
    assert user["email"] == "case@example.com"


def test_wrong_password_and_unknown_email_get_the_same_401(client):
    user = signup(client)
    wrong_password = client.post(
        "/auth/login", json={"email": user["email"], "password": "wrong password"}
    )
    unknown_email = client.post(
        "/auth/login",
        json={"email": "nobody@example.com", "password": "wrong password"},
    )
    for response in (wrong_password, unknown_email):
        assert_error(response, 401, "invalid_credentials")
    assert wrong_password.json() == unknown_email.json()


def test_unknown_email_still_verifies_a_hash(client, monkeypatch):
    # "About the same time" without a timed test: both paths run exactly one argon2 verify.
    from auth import logic

    calls = []
    real_verify = logic.verify_password
    monkeypatch.setattr(
        logic, "verify_password", lambda *a: calls.append(a) or real_verify(*a)
    )
    user = signup(client)
    client.post(
        "/auth/login", json={"email": user["email"], "password": "wrong password"}
    )
    client.post(
        "/auth/login",
        json={"email": "nobody@example.com", "password": "wrong password"},
    )
    assert len(calls) == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@example.com"},
        {"password": "x"},
        {"email": "", "password": "x"},
        {"email": "a@example.com", "password": "x" * 129},
        [],
        None,
        {"email": 1, "password": 2},
    ],
)
def test_bad_login_input_is_a_422(client, body):
    assert_error(client.post("/auth/login", json=body), 422, "validation_error")


def test_bad_login_form_is_a_422(client):
    assert_error(
        client.post("/auth/login", data={"username": "a@example.com"}),
        422,
        "validation_error",
    )


def test_broken_login_json_is_a_422(client):
    response = client.post(
        "/auth/login", content="{nope", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "validation_error")


def test_repeated_failures_for_one_email_are_throttled(client):
    user = signup(client)
    for _ in range(5):
        assert (
            client.post(
                "/auth/login", json={"email": user["email"], "password": "bad password"}
            ).status_code
            == 401
        )
    response = client.post(
        "/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 300


def test_repeated_failures_from_one_client_are_throttled(client):
    for index in range(20):
        client.post(
            "/auth/login",
            json={"email": f"spray{index}@example.com", "password": "bad password"},
        )
    user = signup(client)
    response = client.post(
        "/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert_error(response, 429, "rate_limited")


def test_a_successful_login_clears_the_email_count(client):
    user = signup(client)
    for _ in range(4):
        client.post(
            "/auth/login", json={"email": user["email"], "password": "bad password"}
        )
    login(client, user["email"])
    for _ in range(4):
        client.post(
            "/auth/login", json={"email": user["email"], "password": "bad password"}
        )
    assert login(client, user["email"])


def test_login_works_when_redis_is_down(client, monkeypatch):
    from tests.services import free_port
    from ticketmania.cache import Cache, build_redis

    user = signup(client)
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("auth.routes.get_cache", lambda: dead)
    assert login(client, user["email"])


# --- /auth/me and tokens --------------------------------------------------------------------


def test_me_without_a_token_is_not_authenticated(client):
    assert_error(client.get("/auth/me"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Token x", "bearer"]
)
def test_me_with_a_malformed_header_is_401(client, header):
    response = client.get("/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "invalid_token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


# A token whose header is JSON nested past the parser's depth: read as any other junk.
NESTED_HEADER_TOKEN = (
    base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=") + ".e30.x"
)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/auth/me", None),
        ("POST", "/bookings", {"event_id": 1, "seats_booked": 1}),
        ("POST", "/checkins", {"code": "x", "event_id": 1}),
    ],
)
def test_a_token_with_an_absurdly_nested_header_is_401(client, method, path, body):
    response = client.request(
        method, path, json=body, headers=auth_header(NESTED_HEADER_TOKEN)
    )
    assert_error(response, 401, "invalid_token")


def _token_for(user_id, *, secret=TEST_SECRET_KEY, now=None, version=0, role="user"):
    return issue_access_token(
        user_id=user_id,
        role=role,
        token_version=version,
        secret=secret,
        lifetime=timedelta(hours=1),
        now=now or datetime.now(UTC),
    )


def test_expired_token_is_invalid(client):
    user = signup(client)
    expired = _token_for(user["id"], now=datetime.now(UTC) - timedelta(hours=2))
    assert_error(
        client.get("/auth/me", headers=auth_header(expired)), 401, "invalid_token"
    )


def test_forged_token_is_invalid(client):
    user = signup(client)
    forged = _token_for(
        user["id"], secret="not-the-server-secret-but-long-enough-000000"
    )
    assert_error(
        client.get("/auth/me", headers=auth_header(forged)), 401, "invalid_token"
    )


def test_none_algorithm_token_is_invalid(client):
    user = signup(client)
    unsigned = jwt.encode(
        {"sub": str(user["id"]), "iat": 1, "exp": 4_000_000_000, "ver": 0},
        None,
        algorithm="none",
    )
    assert_error(
        client.get("/auth/me", headers=auth_header(unsigned)), 401, "invalid_token"
    )


def test_token_of_a_removed_user_is_invalid(client):
    user, token = user_token(client)
    with open_session() as session:
        session.execute(delete(User).where(User.id == user["id"]))
        session.commit()
    assert_error(
        client.get("/auth/me", headers=auth_header(token)), 401, "invalid_token"
    )


def test_token_for_an_unknown_user_id_is_invalid(client):
    assert_error(
        client.get("/auth/me", headers=auth_header(_token_for(999_999))),
        401,
        "invalid_token",
    )


# --- password change ------------------------------------------------------------------------


def test_password_change_revokes_every_earlier_token(client):
    user, first = user_token(client)
    second = login(client, user["email"])
    response = client.post(
        "/auth/password",
        json={
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a brand new password",
        },
        headers=auth_header(first),
    )
    assert response.status_code == 204
    assert response.content == b""
    for old in (first, second):
        assert_error(
            client.get("/auth/me", headers=auth_header(old)), 401, "invalid_token"
        )
    assert_error(
        client.post(
            "/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
        ),
        401,
        "invalid_credentials",
    )
    fresh = login(client, user["email"], "a brand new password")
    assert client.get("/auth/me", headers=auth_header(fresh)).status_code == 200


def test_password_change_with_a_wrong_current_password_is_forbidden(client):
    _, token = user_token(client)
    response = client.post(
        "/auth/password",
        json={"current_password": "not my password", "new_password": "whatever123"},
        headers=auth_header(token),
    )
    assert_error(response, 403, "forbidden")
    assert client.get("/auth/me", headers=auth_header(token)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        {"current_password": DEFAULT_PASSWORD, "new_password": "x" * 129},
        {"current_password": DEFAULT_PASSWORD},
        {},
        [],
    ],
)
def test_bad_password_change_input_is_a_422_and_changes_nothing(client, body):
    user, token = user_token(client)
    assert_error(
        client.post("/auth/password", json=body, headers=auth_header(token)),
        422,
        "validation_error",
    )
    assert login(client, user["email"])


def test_password_change_needs_a_token(client):
    response = client.post(
        "/auth/password", json={"current_password": "x", "new_password": "y" * 8}
    )
    assert_error(response, 401, "not_authenticated")


# --- routing and errors ---------------------------------------------------------------------


def test_unknown_route_is_a_json_404(client):
    assert_error(client.get("/auth/nope"), 404, "not_found")


def test_wrong_method_is_a_json_405(client):
    assert_error(client.delete("/auth/me"), 405, "method_not_allowed")


def test_trailing_slash_is_not_a_route(client):
    assert client.post("/auth/signup/", json={}).status_code == 404


def assert_422(response):
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert isinstance(response.json()["detail"], list)


def test_nul_in_auth_bodies_is_a_422_and_writes_nothing(client):
    assert_422(
        client.post(
            "/auth/signup",
            json={"name": "a\x00", "email": "n@example.com", "password": "long enough"},
        )
    )
    assert_422(
        client.post("/auth/login", json={"email": "a\x00@example.com", "password": "x"})
    )


def test_absurdly_nested_login_json_is_a_4xx(client):
    response = client.post(
        "/auth/login",
        content="[" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500


def test_parallel_wrong_passwords_cannot_slip_past_the_throttle(client):
    from auth.app import handler

    user = signup(client)
    event = with_overrides(
        load_event("http_api_auth_login"),
        body={"email": user["email"], "password": "wrong guess"},
    )
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: invoke(handler, event).status, range(40)))
    assert statuses.count(401) == get_settings().login_max_failures
    assert statuses.count(429) == 40 - get_settings().login_max_failures
