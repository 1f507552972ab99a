"""The sharded seat inventory: a hot event's seats live in up to 64 rows, and a
booking holds only the shard it takes from. Exact under concurrency: never
oversold, never refused while seats are left, caps and counts kept."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import (
    auth_header,
    book,
    create_event,
    seat_books,
    user_token,
)
from tests.lambda_events import invoke, load_event, with_overrides
from ticketmania.db import bookings as booking_table
from ticketmania.db import events as event_table
from ticketmania.db.engine import get_engine, open_session
from ticketmania.settings import get_settings


def shards_of(event_id):
    with get_engine().connect() as connection:
        return connection.execute(
            text(
                "SELECT shard, available FROM seat_shards WHERE event_id = :id ORDER BY shard"
            ),
            {"id": event_id},
        ).all()


def users_in_sql(count):
    with get_engine().begin() as connection:
        return list(
            connection.scalars(
                text(
                    "INSERT INTO users (name, email, password_hash) "
                    "SELECT 'u', 'inv' || n || '-' || gen_random_uuid() || '@x.com', 'x' "
                    "FROM generate_series(1, :n) AS n RETURNING id"
                ),
                {"n": count},
            )
        )


def book_in_sql(user_id, event_id, seats, *, cap=10):
    """The booking path's own statements, as book_seats() runs them: the fast
    pick, then the waiting one when the fast one may have missed seats."""
    now = datetime.now(UTC)

    def attempt_once(*, wait):
        with open_session() as session:
            return booking_table.book(
                session,
                wait=wait,
                user_id=user_id,
                token_version=0,
                event_id=event_id,
                seats=seats,
                max_seats_per_user=cap,
                idempotency_key=None,
                request_hash=None,
                now=now,
            )

    attempt = attempt_once(wait=False)
    if attempt.may_wait(seats):
        attempt = attempt_once(wait=True)
    return attempt


def assert_books_balance(event_id):
    books = seat_books(event_id)
    assert books.available == books.total - books.confirmed
    assert 0 <= books.available <= books.total
    with get_engine().connect() as connection:
        mismatched = connection.scalar(
            text(
                "SELECT count(*) FROM user_event_seats u WHERE u.event_id = :id AND u.seats <> "
                "(SELECT coalesce(sum(seats_booked), 0) FROM bookings b WHERE b.user_id = u.user_id "
                " AND b.event_id = u.event_id AND b.status = 'confirmed')"
            ),
            {"id": event_id},
        )
    assert mismatched == 0
    return books


def test_seats_are_spread_over_shards_by_size(client, admin):
    small = create_event(client, admin, total_seats=5)
    large = create_event(client, admin, total_seats=1000)
    assert shards_of(small["id"]) == [(0, 5)]
    assert len(shards_of(large["id"])) == 64
    assert sum(available for _, available in shards_of(large["id"])) == 1000
    assert large["available_seats"] == 1000


def test_every_request_gets_a_seat_while_seats_are_left(client, admin):
    # As many one-seat requests as seats, all at once, from distinct users: a
    # pick that skipped busy shards and gave up would refuse some of them.
    event = create_event(client, admin, total_seats=200)
    users = users_in_sql(200)
    with ThreadPoolExecutor(16) as pool:
        attempts = list(pool.map(lambda u: book_in_sql(u, event["id"], 1), users))
    assert all(attempt.booking is not None for attempt in attempts)
    books = assert_books_balance(event["id"])
    assert (books.confirmed, books.available) == (200, 0)


def test_a_storm_of_mixed_sizes_on_a_hot_event_is_exact(client, admin):
    event = create_event(client, admin, total_seats=640)
    users = users_in_sql(40)
    plan = [(users[i % 40], 1 + (i * 7) % 6) for i in range(400)]
    with ThreadPoolExecutor(16) as pool:
        attempts = list(
            pool.map(lambda job: book_in_sql(job[0], event["id"], job[1], cap=20), plan)
        )
    booked = sum(a.booking.seats_booked for a in attempts if a.booking is not None)
    books = assert_books_balance(event["id"])
    assert books.confirmed == booked
    # Every refusal was for a real reason: the cap, or too few seats left.
    for attempt, (_, seats) in zip(attempts, plan, strict=True):
        if attempt.booking is None:
            assert (attempt.has_seats and not attempt.is_within_cap) or (
                attempt.seats_left < seats
            )


def test_a_booking_that_waited_on_a_shard_sees_the_event_cancelled(client, admin):
    event = create_event(client, admin, total_seats=20)
    _, token = user_token(client)
    holder = get_engine().connect()
    transaction = holder.begin()
    # A transaction holding every shard, as an event cancellation does.
    holder.execute(
        text(
            "SELECT 1 FROM seat_shards WHERE event_id = :id ORDER BY shard FOR UPDATE"
        ),
        {"id": event["id"]},
    )
    result = {}

    def book_now():
        result["response"] = client.post(
            "/bookings",
            json={"event_id": event["id"], "seats_booked": 1},
            headers=auth_header(token),
        )

    booker = threading.Thread(target=book_now)
    booker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not waiting_on_a_lock():
            time.sleep(0.05)
        assert waiting_on_a_lock(), "the booking should be waiting for a shard"
        # The cancellation commits while the booking waits.
        holder.execute(
            text("UPDATE events SET cancelled_at = now() WHERE id = :id"),
            {"id": event["id"]},
        )
        transaction.commit()
    finally:
        if transaction.is_active:
            transaction.rollback()
        holder.close()
        booker.join(30)
    response = result["response"]
    assert (response.status_code, response.json()["code"]) == (409, "event_closed")
    assert seat_books(event["id"]).confirmed == 0


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


def test_a_multi_shard_booking_takes_from_several_shards(client, admin):
    event = create_event(client, admin, total_seats=20)  # 2 shards of 10
    users = users_in_sql(2)
    # Leave 3 seats in each shard: no single shard holds 5 any more.
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE seat_shards SET available = 3 WHERE event_id = :id"),
            {"id": event["id"]},
        )
        connection.execute(
            text(
                "INSERT INTO bookings (user_id, event_id, seats_booked) VALUES (:u, :e, 14)"
            ),
            {"u": users[0], "e": event["id"]},
        )
    attempt = book_in_sql(users[1], event["id"], 5)
    assert attempt.booking is not None
    assert sorted(available for _, available in shards_of(event["id"])) == [0, 1]


def test_refusal_by_the_cap_writes_nothing(client, admin):
    event = create_event(client, admin, total_seats=100)
    (user,) = users_in_sql(1)
    cap = get_settings().max_seats_per_user_per_event
    assert book_in_sql(user, event["id"], cap, cap=cap).booking is not None
    refused = book_in_sql(user, event["id"], 1, cap=cap)
    assert refused.booking is None and refused.has_seats and not refused.is_within_cap
    books = assert_books_balance(event["id"])
    assert books.confirmed == cap


# --- cancellations at once ------------------------------------------------------------


def wait_for_lock_waiters(count):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with get_engine().connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {count} statements waiting on a lock")


def cancel_request(booking_id, token):
    return with_overrides(
        load_event("http_api_bookings_cancel"),
        token=token,
        path_parameters={"id": str(booking_id)},
    )


def cancellation_messages():
    with get_engine().connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM outbox WHERE topic = 'booking.cancelled'")
        )


def test_two_cancellations_of_one_booking_at_once_give_its_seats_back_once(
    client, admin
):
    from bookings.app import handler

    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 3).json()
    request = cancel_request(booking["id"], token)
    # Every shard held, as a resize holds them: both cancellations queue behind it
    # and then run at once.
    with Session(get_engine()) as holder, ThreadPoolExecutor(2) as pool:
        event_table.lock_seats(holder, event["id"])
        answers = [pool.submit(invoke, handler, request) for _ in range(2)]
        wait_for_lock_waiters(2)
        holder.rollback()
        outcomes = sorted(
            (answer.status, answer.json().get("code"))
            for answer in (future.result(timeout=30) for future in answers)
        )
    assert outcomes == [(200, None), (409, "already_cancelled")]
    books = seat_books(event["id"])
    assert (books.available, books.confirmed) == (10, 0)
    assert cancellation_messages() == 1
    # The seats count against the user's allowance no more: they may book 10.
    assert book(client, token, event["id"], 10).status_code == 201


def test_a_cancellation_racing_the_events_cancellation_finds_it_cancelled(
    client, admin
):
    from bookings.app import handler

    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 3).json()
    with Session(get_engine()) as canceller, ThreadPoolExecutor(1) as pool:
        event_table.lock_seats(canceller, event["id"])
        answer = pool.submit(invoke, handler, cancel_request(booking["id"], token))
        wait_for_lock_waiters(1)
        event_table.cancel_with_bookings(canceller, event["id"], now=datetime.now(UTC))
        canceller.commit()
        answer = answer.result(timeout=30)
    assert (answer.status, answer.json()["code"]) == (409, "already_cancelled")
    books = seat_books(event["id"])
    assert (books.available, books.confirmed, books.is_cancelled) == (10, 0, True)
    assert cancellation_messages() == 0  # the event's own message says it all
