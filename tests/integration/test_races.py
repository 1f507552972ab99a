"""Races an outside audit found, each released together (a barrier) and repeated
enough rounds to have caught it on the code before the fix: admin writes racing
each other and bookings, the waiting pick meeting seats given back, one
Idempotency-Key sent several times at once."""

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from tests.factories import (
    auth_header,
    book,
    create_event,
    seat_books,
    user_token,
)
from ticketmania.db import bookings as booking_table
from ticketmania.db.engine import get_engine, open_session


def released_together(base_url, calls):
    """Run each call in a thread of its own with a client already connected to
    `base_url`, all released at once; their results."""
    barrier = threading.Barrier(len(calls), timeout=60)

    def run(call):
        with httpx.Client(base_url=base_url, timeout=30) as http:
            http.get("/health")  # connected before the release
            barrier.wait()
            return call(http)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_books_balance(event_id):
    books = seat_books(event_id)
    assert books.available == books.total - books.confirmed, books
    return books


def patch_seats(token, event_id, total):
    def call(http):
        response = http.patch(
            f"/events/{event_id}",
            json={"total_seats": total},
            headers=auth_header(token),
        )
        return response.status_code, response.json()

    return call


def post_booking(token, event_id, seats, key=None):
    def call(http):
        headers = auth_header(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        response = http.post(
            "/bookings",
            json={"event_id": event_id, "seats_booked": seats},
            headers=headers,
        )
        return response.status_code, response.json()

    return call


# Before the fix, 15 of 40 rounds lost or refused seats (each resize locked only
# the shards it saw when it began): 40 rounds catch it all but surely.
RESIZE_ROUNDS = 40


def test_two_resizes_at_once_both_succeed_and_keep_every_seat(
    client, admin, live_server
):
    failures = []
    for _ in range(RESIZE_ROUNDS):
        event = create_event(client, admin, total_seats=20)
        results = released_together(
            live_server,
            [
                patch_seats(admin, event["id"], 640),
                patch_seats(admin, event["id"], 700),
            ],
        )
        books = seat_books(event["id"])
        if [status for status, _ in results] != [200, 200] or (
            books.available != books.total or books.total not in (640, 700)
        ):
            failures.append((results, books))
    assert failures == []


def test_resizes_racing_bookings_never_deadlock_or_lose_a_seat(
    client, admin, live_server
):
    # Before the fix, a booking caught between two resizes deadlocked (a 500) in
    # about one round of ten.
    _, token = user_token(client)
    statuses = Counter()
    for round_ in range(25):
        event = create_event(client, admin, total_seats=30)
        results = released_together(
            live_server,
            [
                patch_seats(admin, event["id"], 640 + round_),
                patch_seats(admin, event["id"], 700 + round_),
                patch_seats(admin, event["id"], 20),
                *[post_booking(token, event["id"], 1) for _ in range(3)],
            ],
        )
        statuses.update(status for status, _ in results)
        for status, body in results:
            assert status < 500, body
            if status == 409:
                assert body["code"] in ("seats_below_booked", "limit_exceeded"), body
        assert_books_balance(event["id"])
        # Cancel what was booked, so the user's cap never decides a round.
        with httpx.Client(base_url=live_server, timeout=30) as http:
            for status, body in results:
                if status == 201 and "seats_booked" in body:
                    http.post(
                        f"/bookings/{body['id']}/cancel", headers=auth_header(token)
                    )
    assert statuses[201] > 0


def test_an_event_cancellation_racing_resizes_and_bookings_keeps_the_books(
    client, admin, live_server
):
    _, token = user_token(client)
    for _ in range(15):
        event = create_event(client, admin, total_seats=30)

        def cancel_event(http, event_id=event["id"]):
            response = http.delete(f"/events/{event_id}", headers=auth_header(admin))
            return response.status_code, {}

        results = released_together(
            live_server,
            [
                patch_seats(admin, event["id"], 640),
                cancel_event,
                patch_seats(admin, event["id"], 700),
                post_booking(token, event["id"], 2),
            ],
        )
        for status, body in results:
            assert status < 500, body
        books = seat_books(event["id"])
        assert books.is_cancelled
        assert books.confirmed == 0
        assert books.available == books.total


def waiting_on_a_lock():
    with get_engine().connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )


def test_the_waiting_pick_takes_seats_given_back_while_it_waited(client, admin):
    """Shards of 1, 1 and 1 seats; a booking of 3 waits in shard order while a
    cancellation gives 2 seats back to shard 1. Before the fix the statement
    subtracted from the shard's row as it first read it (1 - 2 = -1) and the
    client got 409 conflict for seats that were there: every time."""
    event = create_event(client, admin, total_seats=30)
    _, token = user_token(client)
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE seat_shards SET available = 1 WHERE event_id = :id"),
            {"id": event["id"]},
        )
        # The 27 seats taken above: 25 stay booked, 2 the holder below cancels.
        connection.execute(
            text(
                "INSERT INTO bookings (user_id, event_id, seats_booked, status) "
                "SELECT id, :event, seats, 'confirmed' FROM users, "
                "(VALUES (25), (2)) AS b(seats) WHERE role = 'admin'"
            ),
            {"event": event["id"]},
        )
    holder = get_engine().connect()
    transaction = holder.begin()
    # A give-back in flight on shard 1 (a cancellation or a resize).
    holder.execute(
        text(
            "UPDATE seat_shards SET available = available + 2 "
            "WHERE event_id = :id AND shard = 1"
        ),
        {"id": event["id"]},
    )
    holder.execute(
        text(
            "UPDATE bookings SET status = 'cancelled' WHERE event_id = :id "
            "AND seats_booked = 2"
        ),
        {"id": event["id"]},
    )
    outcome = {}

    def book_waiting():
        user_id = client.get("/auth/me", headers=auth_header(token)).json()["id"]
        with open_session() as session:
            try:
                outcome["attempt"] = booking_table.book(
                    session,
                    wait=True,
                    user_id=user_id,
                    token_version=0,
                    event_id=event["id"],
                    seats=3,
                    max_seats_per_user=10,
                    idempotency_key=None,
                    request_hash=None,
                    now=datetime.now(UTC),
                )
            except Exception as exc:  # the old code's 23514
                outcome["error"] = exc

    booker = threading.Thread(target=book_waiting)
    booker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not waiting_on_a_lock():
            time.sleep(0.02)
        assert waiting_on_a_lock(), "the booking should wait for shard 1"
        transaction.commit()
    finally:
        if transaction.is_active:
            transaction.rollback()
        holder.close()
        booker.join(30)
    assert "error" not in outcome, outcome
    assert outcome["attempt"].booking is not None
    books = assert_books_balance(event["id"])
    assert (books.confirmed, books.available) == (25 + 3, 2)


def test_the_same_key_sent_at_once_is_one_booking_whatever_the_cap(
    client, admin, live_server
):
    """Four identical keyed requests for the last seats of the user's allowance,
    released together. Before the fix, 6 of 15 rounds answered one of them 409
    limit_exceeded ("you can book 10 more") while another held the booking."""
    failures = []
    for _ in range(15):
        event = create_event(client, admin, total_seats=100)
        _, token = user_token(client)
        assert book(client, token, event["id"], 8).status_code == 201
        key = str(uuid.uuid4())
        results = released_together(
            live_server, [post_booking(token, event["id"], 2, key=key)] * 4
        )
        statuses = sorted(status for status, _ in results)
        bodies = {str(sorted(body.items())) for _, body in results}
        if statuses != [200, 200, 200, 201] or len(bodies) != 1:
            failures.append(results)
        assert_books_balance(event["id"])
    assert failures == []


def test_the_same_key_sent_at_once_is_one_booking_whatever_the_seats_left(
    client, admin, live_server
):
    """As above, for an event of exactly the seats asked: before the fix one of
    them could be told 409 sold_out."""
    failures = []
    for _ in range(15):
        event = create_event(client, admin, total_seats=3)
        _, token = user_token(client)
        key = str(uuid.uuid4())
        results = released_together(
            live_server, [post_booking(token, event["id"], 3, key=key)] * 4
        )
        statuses = sorted(status for status, _ in results)
        if statuses != [200, 200, 200, 201] or len({b["id"] for _, b in results}) != 1:
            failures.append(results)
        books = assert_books_balance(event["id"])
        assert books.confirmed == 3
    assert failures == []
