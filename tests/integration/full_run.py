"""A full run of every API function, as Lambda invokes them, logging at DEBUG:
the flows and the failures (wrong passwords into the throttle, forged and
revoked tokens, a password change, bookings, a replay, cancellations, the
cache's outage, the database's). Run in a fresh process by
test_logs_hold_no_secrets.py, which reads everything it wrote; its last line
lists the secrets it handled, for the test to look for."""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy.orm import sessionmaker

from tests.lambda_events import LambdaContext, load_event, with_overrides


def call(handler: Any, sample: str, **overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = handler(
        with_overrides(load_event(sample), **overrides), LambdaContext()
    )
    return answer


def main() -> None:
    import events.routes as event_routes
    import ticketmania.cache as cache_module
    import ticketmania.db.engine as engine_module
    from auth.app import handler as auth_handler
    from bookings.app import handler as bookings_handler
    from events.app import handler as events_handler
    from ticketmania.admins import create_or_promote_admin
    from ticketmania.cache import Cache, build_redis
    from ticketmania.settings import get_settings

    password, new_password = "full run password", "full run new password"
    admin_password = "full run admin password"
    handled: dict[str, list[str]] = {
        "keys": [get_settings().secret_key.get_secret_value()],
        "passwords": [password, new_password, admin_password],
        "tokens": [],
    }
    with engine_module.open_session() as session:
        create_or_promote_admin(
            session,
            email="boss@full.run",
            password=admin_password,
            name=None,
            reset_password=False,
        )

    def login(email: str, secret: str, *, form: bool = False) -> str:
        if form:
            answer = call(
                auth_handler,
                "http_api_auth_login_form",
                body=f"username={email}&password={secret.replace(' ', '+')}",
            )
        else:
            answer = call(
                auth_handler,
                "http_api_auth_login",
                body={"email": email, "password": secret},
            )
        token = str(json.loads(answer["body"]).get("access_token", ""))
        if token:
            handled["tokens"].append(token)
        return token

    call(
        auth_handler,
        "http_api_auth_signup",
        body={"name": "Run", "email": "run@full.run", "password": password},
    )
    token = login("run@full.run", password)
    login("run@full.run", password, form=True)
    admin = login("boss@full.run", admin_password)
    for _ in range(7):  # a stranger guessing, into the throttle
        login("stranger@full.run", "not the password")
    call(auth_handler, "http_api_auth_me", token=token)
    call(auth_handler, "http_api_auth_me", token=token + "forged")
    call(auth_handler, "http_api_auth_me", token="not.a.token")

    event = json.loads(
        call(events_handler, "http_api_events_create", token=admin)["body"]
    )
    doomed = json.loads(
        call(events_handler, "http_api_events_create", token=admin)["body"]
    )
    call(events_handler, "http_api_events_list")
    ticket = {"event_id": event["id"], "seats_booked": 2}
    booking = json.loads(
        call(bookings_handler, "http_api_bookings_create", token=token, body=ticket)[
            "body"
        ]
    )
    call(
        bookings_handler, "http_api_bookings_create", token=token, body=ticket
    )  # a replay
    call(
        bookings_handler,
        "http_api_bookings_cancel",
        token=token,
        path_parameters={"id": str(booking["id"])},
    )
    call(
        events_handler,
        "http_api_events_cancel",
        token=admin,
        path_parameters={"id": str(doomed["id"])},
    )
    call(
        auth_handler,
        "http_api_auth_password",
        token=token,
        body={"current_password": password, "new_password": new_password},
    )
    call(auth_handler, "http_api_auth_me", token=token)  # revoked now
    token = login("run@full.run", new_password)

    # Redis goes away: listings come from Postgres, and the outage is logged.
    dead_cache = Cache(
        build_redis("redis://:cache-password@127.0.0.1:9/0", timeout_seconds=0.1),
        breaker_seconds=0,
    )
    cache_module.get_cache = lambda: dead_cache  # type: ignore[assignment]
    event_routes.get_cache = lambda: dead_cache  # type: ignore[assignment]
    call(events_handler, "http_api_events_list", body=None)

    # The database goes away: 503s, logged without values.
    dead = engine_module.build_engine(
        get_settings(), database_url="postgresql://postgres:db-password@127.0.0.1:9/x"
    )
    engine_module._session_factory = lambda: sessionmaker(bind=dead)  # type: ignore[assignment]
    call(
        events_handler, "http_api_events_get", path_parameters={"id": str(event["id"])}
    )
    call(bookings_handler, "http_api_bookings_my", token=token)
    call(auth_handler, "http_api_health")
    handled["passwords"] += ["cache-password", "db-password"]
    print("SECRETS " + json.dumps(handled))


if __name__ == "__main__":
    sys.exit(main())
