"""The README's walk-through, against any base URL: `ticketmania serve`,
`sam local start-api`, or a deployed stage.

    python scripts/walkthrough.py --base-url http://127.0.0.1:8000 \\
        --admin-email boss@example.com --admin-password 'admin password'

The admin is made beforehand with `ticketmania create-admin` (admins are never
made over HTTP). It signs up two users (Ada and Bob, new addresses each run),
books, replays, cancels, holds and confirms, puts Bob on a sold-out event's
waitlist until Ada lets her seats go and Bob accepts the offer, and checks
Ada's ticket in at the door, once. Each step prints what it sent and what came back, and checks
the answer the API contract promises; the first wrong answer stops it with exit
status 1. Only the standard library: it runs with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any


class WrongAnswer(Exception):
    pass


class Api:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL the user gave
            self.base_url + path, data=data, method=method
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        answer = json.loads(raw) if raw else None
        shown = json.dumps(answer)[:200] if answer is not None else ""
        print(f"{method} {path} -> {status} {shown}")
        if status != expect:
            raise WrongAnswer(f"{method} {path}: expected {expect}, got {status}")
        return answer


def walk(api: Api, *, admin_email: str, admin_password: str) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse"
    api.call(
        "POST",
        "/auth/signup",
        body={"name": "Ada", "email": email, "password": password},
        expect=201,
    )
    token = api.call(
        "POST", "/auth/login", body={"email": email, "password": password}, expect=200
    )["access_token"]
    me = api.call("GET", "/auth/me", token=token, expect=200)
    expect_equal(me["email"], email, "the caller's email")

    admin = api.call(
        "POST",
        "/auth/login",
        body={"email": admin_email, "password": admin_password},
        expect=200,
    )["access_token"]
    event = api.call(
        "POST",
        "/events",
        token=admin,
        body={
            "title": "Flash Sale Live",
            "location": "Berlin",
            "event_date": "2030-06-01T19:30:00Z",
            "total_seats": 50,
        },
        expect=201,
    )
    listing = api.call("GET", "/events?limit=10&q=flash", expect=200)
    expect_equal(
        any(item["id"] == event["id"] for item in listing), True, "the event listed"
    )

    key = {"Idempotency-Key": str(uuid.uuid4())}
    order = {"event_id": event["id"], "seats_booked": 2}
    booking = api.call(
        "POST", "/bookings", token=token, body=order, headers=key, expect=201
    )
    replay = api.call(
        "POST", "/bookings", token=token, body=order, headers=key, expect=200
    )
    expect_equal(replay, booking, "the replay's booking")
    mismatch = api.call(
        "POST",
        "/bookings",
        token=token,
        body={**order, "seats_booked": 3},
        headers=key,
        expect=409,
    )
    expect_equal(mismatch["code"], "idempotency_mismatch", "the mismatch's code")
    mine = api.call("GET", "/bookings/my", token=token, expect=200)
    expect_equal([b["id"] for b in mine], [booking["id"]], "the caller's bookings")
    seats = api.call("GET", f"/events/{event['id']}", expect=200)["available_seats"]
    expect_equal(seats, 48, "available seats after the booking")
    cancelled = api.call(
        "POST", f"/bookings/{booking['id']}/cancel", token=token, expect=200
    )
    expect_equal(cancelled["status"], "cancelled", "the cancelled booking's status")
    seats = api.call("GET", f"/events/{event['id']}", expect=200)["available_seats"]
    expect_equal(seats, 50, "available seats after the cancellation")

    # A hold, then its confirmation.
    held = api.call(
        "POST",
        "/bookings",
        token=token,
        body={**order, "seats_booked": 1, "hold": True},
        expect=201,
    )
    expect_equal(held["status"], "held", "the hold's status")
    confirmed = api.call(
        "POST", f"/bookings/{held['id']}/confirm", token=token, expect=200
    )
    expect_equal(confirmed["status"], "confirmed", "the confirmed hold's status")

    # A waitlist: a sold-out event's line gets the seats that come back.
    tiny = api.call(
        "POST",
        "/events",
        token=admin,
        body={
            "title": "Tiny Room",
            "location": "Berlin",
            "event_date": "2030-06-02T19:30:00Z",
            "total_seats": 2,
        },
        expect=201,
    )
    taken = api.call(
        "POST",
        "/bookings",
        token=token,
        body={"event_id": tiny["id"], "seats_booked": 2, "hold": True},
        expect=201,
    )
    bob_email = f"bob-{uuid.uuid4().hex[:8]}@example.com"
    api.call(
        "POST",
        "/auth/signup",
        body={"name": "Bob", "email": bob_email, "password": password},
        expect=201,
    )
    bob = api.call(
        "POST",
        "/auth/login",
        body={"email": bob_email, "password": password},
        expect=200,
    )["access_token"]
    entry = api.call(
        "POST",
        f"/events/{tiny['id']}/waitlist",
        token=bob,
        body={"seats": 2},
        expect=201,
    )
    expect_equal((entry["status"], entry["position"]), ("waiting", 1), "Bob's place")
    api.call("POST", f"/bookings/{taken['id']}/cancel", token=token, expect=200)
    entry = api.call("GET", f"/events/{tiny['id']}/waitlist/me", token=bob, expect=200)
    expect_equal(entry["status"], "offered", "Bob's entry once the seats came back")
    accepted = api.call(
        "POST", f"/bookings/{entry['booking_id']}/confirm", token=bob, expect=200
    )
    expect_equal(accepted["status"], "confirmed", "Bob's booking")
    entry = api.call("GET", f"/events/{tiny['id']}/waitlist/me", token=bob, expect=200)
    expect_equal(entry["status"], "accepted", "Bob's entry once he confirmed")

    # A ticket at the door: the code, checked in once (an admin may, as staff do).
    ticket = api.call(
        "GET", f"/bookings/{confirmed['id']}/ticket", token=token, expect=200
    )
    keys = api.call("GET", "/tickets/keys", expect=200)
    expect_equal(bool(keys["keys"]), True, "the keys that verify codes")
    admitted = api.call(
        "POST",
        "/checkins",
        token=admin,
        body={"code": ticket["code"], "event_id": event["id"]},
        expect=200,
    )
    expect_equal(admitted["booking_id"], confirmed["id"], "the booking admitted")
    again = api.call(
        "POST", "/checkins", token=admin, body={"code": ticket["code"]}, expect=409
    )
    expect_equal(again["code"], "already_checked_in", "a second scan's code")
    counts = api.call("GET", f"/events/{event['id']}/checkins", token=admin, expect=200)
    expect_equal(counts["bookings_checked_in"], 1, "bookings checked in")


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise WrongAnswer(f"{what}: expected {expected!r}, got {actual!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds per request (cold starts)"
    )
    args = parser.parse_args(argv)
    try:
        walk(
            Api(args.base_url, timeout=args.timeout),
            admin_email=args.admin_email,
            admin_password=args.admin_password,
        )
    except (WrongAnswer, OSError) as exc:
        print(f"walk-through failed: {exc}", file=sys.stderr)
        return 1
    print("walk-through done: every answer as the contract says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
