"""AuthFunction's handler fed the events/ samples, exactly as API Gateway sends them."""

import pytest

from tests.factories import DEFAULT_PASSWORD, login, signup
from tests.lambda_events import invoke, load_event, with_overrides

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "AuthFunction"


@pytest.fixture(scope="module")
def handler():
    from auth.app import handler

    return handler


def test_signup_event(handler):
    response = invoke(handler, load_event("http_api_auth_signup"))
    assert response.status == 201
    assert response.json()["email"] == "ada@example.com"
    assert response.headers["content-type"] == "application/json"


def test_login_events_json_and_form(handler, client):
    signup(client, email="ada@example.com", password="correct horse battery")
    for name in ("http_api_auth_login", "http_api_auth_login_form"):
        response = invoke(handler, load_event(name))
        assert response.status == 200, response.body
        assert response.json()["token_type"] == "bearer"


def test_me_event_with_a_real_token(handler, client):
    user = signup(client)
    token = login(client, user["email"])
    response = invoke(
        handler, with_overrides(load_event("http_api_auth_me"), token=token)
    )
    assert response.status == 200
    assert response.json()["id"] == user["id"]


def test_me_event_with_the_sample_placeholder_is_401(handler):
    response = invoke(handler, load_event("http_api_auth_me"))
    assert response.status == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == "Bearer"


def test_password_event(handler, client):
    user = signup(client, password="correct horse battery")
    token = login(client, user["email"], "correct horse battery")
    response = invoke(
        handler, with_overrides(load_event("http_api_auth_password"), token=token)
    )
    assert response.status == 204
    assert (
        invoke(
            handler, with_overrides(load_event("http_api_auth_me"), token=token)
        ).status
        == 401
    )


def test_health_event(handler):
    response = invoke(handler, load_event("http_api_health"))
    assert response.status == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_bad_body_through_the_handler_is_422(handler):
    response = invoke(
        handler, with_overrides(load_event("http_api_auth_signup"), body="{broken")
    )
    assert response.status == 422
    assert response.json()["code"] == "validation_error"


def test_handler_works_from_threads(handler, client):
    # Mangum needs an event loop in the calling thread; the entry decorator gives it one.
    from concurrent.futures import ThreadPoolExecutor

    user = signup(client)
    event = with_overrides(
        load_event("http_api_auth_login"),
        body={"email": user["email"], "password": DEFAULT_PASSWORD},
    )
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: invoke(handler, event).status, range(8)))
    assert statuses == [200] * 8
