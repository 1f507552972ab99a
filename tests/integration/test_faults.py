"""Outages that lose nothing, with real services failing for real: Redis killed
while requests flow, Postgres stopped and restarted under bookings with
Idempotency-Keys, a booking's connection terminated while it holds its seats,
and a lock held past lock_timeout."""

import gc
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from tests.factories import (
    auth_header,
    book,
    create_event,
    seat_books,
    user_token,
)
from tests.integration.conftest import TEST_SECRET_KEY
from tests.integration.test_events_cache import DatabaseActivity
from tests.lambda_events import invoke, load_event, with_overrides
from tests.services import RedisServer
from ticketmania.cache import Cache, build_redis
from ticketmania.db.engine import build_engine, get_engine
from ticketmania.security import issue_access_token
from ticketmania.settings import get_settings

# --- Redis killed while requests flow ----------------------------------------------------------


def test_redis_killed_mid_traffic_costs_nothing_and_comes_back(
    client, admin, monkeypatch
):
    server = RedisServer().start()
    # A live Redis: room for a busy machine (a dead one refuses at once anyway).
    cache = Cache(build_redis(server.url, timeout_seconds=1.0), breaker_seconds=0.5)
    for module in ("events.routes", "bookings.routes", "ticketmania.web.limits"):
        monkeypatch.setattr(f"{module}.get_cache", lambda: cache)
    monkeypatch.setattr(get_settings(), "max_seats_per_user_per_event", 100_000)
    event = create_event(client, admin, total_seats=500)
    tokens = [user_token(client)[1] for _ in range(4)]
    statuses = []
    refusals = []
    stop = threading.Event()

    def traffic(token):
        while not stop.is_set():
            statuses.append(client.get("/events").status_code)
            booked = book(client, token, event["id"], 1)
            statuses.append(booked.status_code)
            if booked.status_code != 201:
                refusals.append(booked.json())

    try:
        with ThreadPoolExecutor(4) as pool:
            running = [pool.submit(traffic, token) for token in tokens]
            time.sleep(0.5)
            server.stop()  # killed, mid-traffic
            time.sleep(1.0)
            server.start()  # back on the same port
            time.sleep(1.0)
            stop.set()
            for future in running:
                future.result()
        assert set(statuses) == {200, 201}, refusals
        books = seat_books(event["id"])
        assert books.available == books.total - books.confirmed
        assert books.confirmed == statuses.count(201)
        time.sleep(0.6)  # the breaker closes again
        client.get("/events")
        with DatabaseActivity() as activity:
            assert client.get("/events").status_code == 200
        assert activity.statements == 0  # the cache serves again, by itself
    finally:
        server.stop()


# --- Postgres stopped and restarted under bookings ---------------------------------------------


@pytest.fixture
def private_postgres(tmp_path, monkeypatch):
    """A Postgres of this test's own (the pgserver wheel), which it may stop."""
    from localdev.embedded import EmbeddedPostgres
    from ticketmania.db.migrate import upgrade_to_head

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    servers = [EmbeddedPostgres(tmp_path / "pg")]
    engine = build_engine(
        get_settings().model_copy(update={"db_pool_size": 8}),
        database_url=servers[0].url,
    )
    upgrade_to_head(engine)
    monkeypatch.setattr(
        "ticketmania.db.engine._session_factory",
        lambda: sessionmaker(bind=engine, expire_on_commit=False),
    )

    def restart(*, down_for):
        servers[0].stop()
        time.sleep(down_for)
        servers.append(EmbeddedPostgres(tmp_path / "pg"))

    yield engine, restart
    engine.dispose()
    servers[-1].stop()


def test_postgres_restarted_mid_traffic_books_every_retry_exactly_once(
    private_postgres, monkeypatch
):
    from bookings.app import handler
    from ticketmania.db import events as event_table

    engine, restart = private_postgres
    with engine.begin() as connection:
        user_ids = list(
            connection.scalars(
                text(
                    "INSERT INTO users (name, email, password_hash) "
                    "SELECT 'u', 'fault' || n || '@x.com', 'x' FROM generate_series(1, 8) AS n "
                    "RETURNING id"
                )
            )
        )
    with sessionmaker(bind=engine)() as session:
        event = event_table.insert_event(
            session,
            title="Outage",
            location="Here",
            event_date=datetime.now(UTC) + timedelta(days=3),
            total_seats=10_000,
        )
        session.commit()
        event_id = event.id
    sample = load_event("http_api_bookings_create")
    unavailable = []
    # The clients book from before the outage until after it, however fast the
    # machine: the outage starts once each has booked, and each books twice more
    # once it is over. The cap is raised out of the way of that many bookings.
    monkeypatch.setattr(get_settings(), "max_seats_per_user_per_event", 1_000)
    everyone_booked = threading.Barrier(len(user_ids) + 1, timeout=60)
    outage_over = threading.Event()

    def client(user_id):
        try:
            return book_through_the_outage(user_id)
        except BaseException:
            everyone_booked.abort()  # the main thread stops waiting, and sees why
            raise

    def book_through_the_outage(user_id):
        token = issue_access_token(
            user_id=user_id,
            role="user",
            token_version=0,
            secret=TEST_SECRET_KEY,
            lifetime=timedelta(hours=1),
            now=datetime.now(UTC),
        )
        booked = []
        booked_after_outage = 0
        while booked_after_outage < 2:
            is_after_outage = outage_over.is_set()
            key = str(uuid.uuid4())
            request = with_overrides(
                sample,
                token=token,
                body={"event_id": event_id, "seats_booked": 1},
                headers={"idempotency-key": key},
            )
            deadline = time.monotonic() + 60
            while True:  # retry the same request, key and all, until it is answered
                answer = invoke(handler, request)
                if answer.status != 503:
                    break
                assert int(answer.headers["retry-after"]) > 0
                unavailable.append(key)
                assert time.monotonic() < deadline, "still unavailable after a minute"
                time.sleep(0.1)
            assert answer.status in (200, 201), answer.body
            booked.append((key, answer.json()["id"]))
            if len(booked) == 1:
                everyone_booked.wait(timeout=60)
            booked_after_outage += is_after_outage
            time.sleep(0.05)
        return booked

    with ThreadPoolExecutor(len(user_ids)) as pool:
        running = [pool.submit(client, user_id) for user_id in user_ids]
        try:
            everyone_booked.wait(timeout=60)
            restart(down_for=1.5)
        except threading.BrokenBarrierError:
            for future in running:
                future.result()  # a client's own failure, rather than the barrier's
            raise
        finally:
            outage_over.set()
        results = [booking for future in running for booking in future.result()]

    assert unavailable, "the outage should have been seen as 503s"
    with engine.connect() as connection:
        booked_once = connection.execute(
            text(
                "SELECT k.key, k.booking_id FROM idempotency_keys k "
                "JOIN bookings b ON b.id = k.booking_id WHERE b.status = 'confirmed'"
            )
        ).all()
        confirmed, unsold = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM bookings WHERE status = 'confirmed'), "
                "(SELECT sum(available) FROM seat_shards WHERE event_id = :id)"
            ),
            {"id": event_id},
        ).one()
    assert sorted(results) == sorted(map(tuple, booked_once))  # each retry: one booking
    assert confirmed == len(results) >= 3 * len(user_ids)
    assert unsold == 10_000 - confirmed
    gc.collect()


# --- a booking's connection terminated while it holds its seats --------------------------------


def test_a_booking_terminated_while_holding_its_seats_leaves_nothing(client, admin):
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    before = seat_books(event["id"])
    holder = get_engine().connect()
    transaction = holder.begin()
    # The booking will take its shard, then wait here for the event row.
    holder.execute(
        text("SELECT 1 FROM events WHERE id = :id FOR UPDATE"), {"id": event["id"]}
    )
    answer = {}
    booker = threading.Thread(
        target=lambda: answer.update(response=book(client, token, event["id"], 2))
    )
    booker.start()
    try:
        pid = wait_for_a_waiting_backend()
        with get_engine().connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        transaction.rollback()
        holder.close()
        booker.join(30)
    response = answer["response"]
    assert (response.status_code, response.json()["code"]) == (503, "unavailable")
    after = seat_books(event["id"])
    assert (after.available, after.confirmed) == (before.available, 0)
    with get_engine().connect() as connection:
        written = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM outbox), "
                "(SELECT count(*) FROM user_event_seats WHERE seats > 0)"
            )
        ).one()
    assert tuple(written) == (0, 0, 0)
    assert book(client, token, event["id"], 2).status_code == 201  # and all is well


def wait_for_a_waiting_backend():
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with get_engine().connect() as connection:
            pid = connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' LIMIT 1"
                )
            )
        if pid:
            return pid
        time.sleep(0.05)
    raise AssertionError("no booking waited on the lock")


# --- a lock held past lock_timeout --------------------------------------------------------------


def test_a_cancellation_behind_a_stuck_lock_is_a_503_not_a_hang(client, admin):
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 1).json()
    with get_engine().connect() as holder, holder.begin():
        holder.execute(
            text("SELECT 1 FROM seat_shards WHERE event_id = :id FOR UPDATE"),
            {"id": event["id"]},
        )
        started = time.monotonic()
        response = client.post(
            f"/bookings/{booking['id']}/cancel", headers=auth_header(token)
        )
        waited = time.monotonic() - started
    assert (response.status_code, response.json()["code"]) == (503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert waited < get_settings().db_lock_timeout_ms / 1000 + 5
    assert (
        client.get(f"/bookings/{booking['id']}", headers=auth_header(token)).json()[
            "status"
        ]
        == "confirmed"
    )
