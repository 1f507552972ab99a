"""Never oversold: storms of concurrent bookings through a real HTTP server and through
the Lambda handler in threads, concurrent idempotent retries, and random histories."""

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from tests.factories import (
    auth_header,
    create_event,
    make_admin,
    seat_books,
    user_token,
)
from tests.lambda_events import invoke, load_event, with_overrides

STORM_USERS = 30
STORM_REQUESTS = 240
SEATS = 50


@dataclass
class EventState:
    total: int
    available: int
    confirmed: int


def event_state(event_id):
    books = seat_books(event_id)
    return EventState(
        total=books.total, available=books.available, confirmed=books.confirmed
    )


def storm_setup(client):
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=SEATS)
    tokens = [user_token(client)[1] for _ in range(STORM_USERS)]
    return event, tokens


def post_booking(http, token, event_id, seats, key=None):
    headers = auth_header(token)
    if key:
        headers["Idempotency-Key"] = key
    response = http.post(
        "/bookings", json={"event_id": event_id, "seats_booked": seats}, headers=headers
    )
    return response.status_code, response.json()


def assert_never_oversold(event_id, results, *, expect_sold_out=True):
    statuses = {status for status, _ in results}
    assert statuses <= {201, 409}, statuses
    codes = {body["code"] for status, body in results if status == 409}
    assert codes <= {"sold_out", "limit_exceeded"}, codes
    booked = sum(body["seats_booked"] for status, body in results if status == 201)
    state = event_state(event_id)
    assert state.confirmed == booked
    assert state.available == state.total - state.confirmed
    assert state.available >= 0
    if expect_sold_out:
        assert (state.confirmed, state.available) == (SEATS, 0)


def test_storm_through_the_local_http_server(client, live_server):
    event, tokens = storm_setup(client)
    plan = [tokens[i % STORM_USERS] for i in range(STORM_REQUESTS)]
    random.Random(7).shuffle(plan)
    with (
        httpx.Client(
            base_url=live_server, timeout=30, limits=httpx.Limits(max_connections=40)
        ) as http,
        ThreadPoolExecutor(32) as pool,
    ):
        results = list(
            pool.map(lambda token: post_booking(http, token, event["id"], 1), plan)
        )
    assert_never_oversold(event["id"], results)
    assert sum(1 for status, _ in results if status == 201) == SEATS


def test_storm_of_mixed_sizes_keeps_the_books_straight(client, live_server):
    event, tokens = storm_setup(client)
    rng = random.Random(11)
    plan = [
        (tokens[rng.randrange(STORM_USERS)], rng.randint(1, 4))
        for _ in range(STORM_REQUESTS)
    ]
    with (
        httpx.Client(
            base_url=live_server, timeout=30, limits=httpx.Limits(max_connections=40)
        ) as http,
        ThreadPoolExecutor(32) as pool,
    ):
        results = list(
            pool.map(lambda job: post_booking(http, job[0], event["id"], job[1]), plan)
        )
    assert_never_oversold(event["id"], results, expect_sold_out=False)
    assert event_state(event["id"]).available < 4  # demand far exceeded supply


def test_storm_through_the_lambda_handler_in_threads(client):
    from bookings.app import handler

    event, tokens = storm_setup(client)
    sample = load_event("http_api_bookings_create")
    sample["headers"].pop("idempotency-key")

    def call(token):
        response = invoke(
            handler,
            with_overrides(
                sample, token=token, body={"event_id": event["id"], "seats_booked": 1}
            ),
        )
        return response.status, response.json()

    plan = [tokens[i % STORM_USERS] for i in range(STORM_REQUESTS)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, plan))
    assert_never_oversold(event["id"], results)


def test_the_same_key_sent_twenty_times_at_once_books_once(client, live_server):
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=SEATS)
    token = user_token(client)[1]
    key = str(uuid.uuid4())
    barrier = threading.Barrier(20, timeout=60)

    def send(_):
        with httpx.Client(base_url=live_server, timeout=30) as http:
            barrier.wait()
            return post_booking(http, token, event["id"], 3, key=key)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201]
    assert len({body["id"] for _, body in results}) == 1
    state = event_state(event["id"])
    assert (state.confirmed, state.available) == (3, SEATS - 3)


def test_the_same_key_for_different_events_at_once_books_once(client, live_server):
    admin = make_admin(client)[1]
    events = [create_event(client, admin, total_seats=SEATS) for _ in range(2)]
    token = user_token(client)[1]
    barrier = threading.Barrier(10, timeout=60)

    def send(index):
        with httpx.Client(base_url=live_server, timeout=30) as http:
            barrier.wait()
            return post_booking(
                http, token, events[index % 2]["id"], 1, key="shared-key"
            )

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(send, range(10)))
    assert sorted({status for status, _ in results}) in (
        [200, 201, 409],
        [201, 409],
        [200, 201],
    )
    assert sum(1 for status, _ in results if status == 201) == 1
    assert {body["code"] for status, body in results if status == 409} <= {
        "idempotency_mismatch"
    }
    confirmed = sum(event_state(e["id"]).confirmed for e in events)
    assert confirmed == 1
