"""The listing cache: hits cost no database work, admin writes invalidate at once,
availability lags at most EVENTS_CACHE_TTL, and Redis failing never fails a request."""

import time

import pytest
from sqlalchemy import event as sa_event

from tests.factories import (
    auth_header,
    create_event,
    take_seats_directly,
)
from tests.services import RedisServer, free_port
from ticketmania.cache import Cache, build_redis, bump_version, get_cache
from ticketmania.db.engine import get_engine
from ticketmania.settings import get_settings


class DatabaseActivity:
    """Counts statements run and connections checked out of the pool."""

    def __init__(self):
        self.statements = 0
        self.checkouts = 0

    def __enter__(self):
        engine = get_engine()
        sa_event.listen(engine, "before_cursor_execute", self._on_statement)
        sa_event.listen(engine.pool, "checkout", self._on_checkout)
        return self

    def __exit__(self, *exc):
        engine = get_engine()
        sa_event.remove(engine, "before_cursor_execute", self._on_statement)
        sa_event.remove(engine.pool, "checkout", self._on_checkout)

    def _on_statement(self, *args):
        self.statements += 1

    def _on_checkout(self, *args):
        self.checkouts += 1


def seats_listed(client, event_id):
    return next(
        e["available_seats"]
        for e in client.get("/events").json()
        if e["id"] == event_id
    )


def take_seats_behind_the_api(event_id, seats):
    take_seats_directly(event_id, seats)


def test_a_cached_listing_costs_no_database_query(client, admin):
    create_event(client, admin)
    first = client.get("/events?limit=5")
    with DatabaseActivity() as activity:
        second = client.get("/events?limit=5")
    assert activity.statements == 0 and activity.checkouts == 0
    assert second.content == first.content
    assert second.headers["X-Total-Count"] == first.headers["X-Total-Count"]


def test_the_same_query_spelled_differently_shares_one_entry(client, admin):
    create_event(client, admin)
    client.get("/events?sort=event_date&limit=20&q=Concert")
    with DatabaseActivity() as activity:
        client.get("/events?q=concert&limit=20")
    assert activity.statements == 0


def test_a_miss_queries_once(client, admin):
    create_event(client, admin)
    with DatabaseActivity() as activity:
        client.get("/events?limit=3")
    assert activity.statements == 1


@pytest.mark.parametrize("write", ["create", "update", "delete"])
def test_every_admin_write_is_visible_in_the_very_next_listing(client, admin, write):
    event = create_event(client, admin, title="Before")
    assert [e["title"] for e in client.get("/events").json()] == ["Before"]
    if write == "create":
        create_event(client, admin, title="Added")
        expected = ["Before", "Added"]
    elif write == "update":
        client.patch(
            f"/events/{event['id']}",
            json={"title": "After"},
            headers=auth_header(admin),
        )
        expected = ["After"]
    else:
        client.delete(f"/events/{event['id']}", headers=auth_header(admin))
        expected = []
    assert [e["title"] for e in client.get("/events").json()] == expected


def test_availability_lags_at_most_the_ttl(client, admin, monkeypatch):
    ttl = 3
    monkeypatch.setattr(get_settings(), "events_cache_ttl", ttl)
    event = create_event(client, admin, total_seats=10)
    read_at = time.monotonic()  # the entry's TTL counts from its read
    assert seats_listed(client, event["id"]) == 10
    take_seats_behind_the_api(event["id"], 3)  # as a booking does: no version bump
    still_cached = seats_listed(client, event["id"])
    if time.monotonic() - read_at < ttl:
        assert still_cached == 10  # still the cached page
    assert (
        client.get(f"/events/{event['id']}").json()["available_seats"] == 7
    )  # reads use the database
    # Fresh no later than the TTL after the read (a slow machine gets slack to look).
    while seats_listed(client, event["id"]) != 7:
        assert time.monotonic() - read_at < ttl + 2, "stale past the TTL"
        time.sleep(0.1)


def test_cached_entries_expire_within_the_configured_ttl(client, admin):
    create_event(client, admin)
    client.get("/events")
    redis = get_cache().client
    ttls = [redis.ttl(key) for key in redis.scan_iter("events:list:v[0-9]*")]
    assert ttls and all(0 < ttl <= get_settings().events_cache_ttl for ttl in ttls)


def test_garbage_in_the_cache_is_ignored(client, admin):
    event = create_event(client, admin)
    client.get("/events")
    redis = get_cache().client
    for key in redis.scan_iter("events:list:v[0-9]*"):
        redis.set(key, b"\x00\xffnot a listing")
    response = client.get("/events")
    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [event["id"]]


def test_a_garbage_version_falls_back_to_the_database(client, admin):
    event = create_event(client, admin)
    get_cache().client.set("events:list:version", b"not-a-number")
    response = client.get("/events")
    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [event["id"]]


def test_redis_url_on_a_closed_port_serves_from_the_database(
    client, admin, monkeypatch
):
    event = create_event(client, admin)
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("events.routes.get_cache", lambda: dead)
    for _ in range(3):
        response = client.get("/events")
        assert response.status_code == 200
        assert [e["id"] for e in response.json()] == [event["id"]]
    assert dead.is_open  # later requests skip Redis instead of waiting on it again


def test_redis_dying_mid_test_never_fails_a_request(client, admin, monkeypatch):
    server = RedisServer().start()
    try:
        cache = Cache(build_redis(server.url, timeout_seconds=1.0), breaker_seconds=5)
        monkeypatch.setattr("events.routes.get_cache", lambda: cache)
        monkeypatch.setattr(
            "events.logic.bump_version", lambda *a: None
        )  # writes below go to the real cache
        event = create_event(client, admin)
        client.get("/events")
        with DatabaseActivity() as activity:
            assert [e["id"] for e in client.get("/events").json()] == [event["id"]]
        assert activity.statements == 0  # served from the private Redis
        server.stop()
        for _ in range(3):
            response = client.get("/events")
            assert response.status_code == 200
            assert [e["id"] for e in response.json()] == [event["id"]]
        assert cache.is_open
    finally:
        server.stop()


def test_admin_writes_succeed_when_redis_is_down(client, admin, monkeypatch):
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("events.routes.get_cache", lambda: dead)
    event = create_event(client, admin)
    response = client.patch(
        f"/events/{event['id']}", json={"title": "x"}, headers=auth_header(admin)
    )
    assert response.status_code == 200
    assert (
        client.delete(f"/events/{event['id']}", headers=auth_header(admin)).status_code
        == 204
    )


def test_invalidation_goes_around_an_open_breaker():
    cache = get_cache()
    cache.client.set("events:list:version", 7)
    cache._open_until = float("inf")  # this container saw Redis fail a moment ago
    try:
        bump_version(cache, "events:list")
    finally:
        cache._open_until = 0.0
    assert int(cache.client.get("events:list:version")) == 8


def test_a_garbage_version_is_repaired(client, admin):
    create_event(client, admin)
    get_cache().client.set("events:list:version", b"not-a-number")
    client.get("/events")
    assert get_cache().client.get("events:list:version").isdigit()
    with DatabaseActivity() as activity:
        client.get("/events")
    assert activity.statements == 0


def test_the_cache_ttl_counts_from_the_read(client, admin):
    from ticketmania.db.engine import open_session
    from ticketmania.listings import LISTING_NAMESPACE, EventQuery, cached_listing

    create_event(client, admin)
    ticks = iter([100.0, 103.0])  # the query took 3 s
    cached_listing(
        open_session,
        get_cache(),
        EventQuery(),
        ttl_seconds=5,
        clock=lambda: next(ticks),
    )
    redis = get_cache().client
    ttls = [redis.pttl(key) for key in redis.scan_iter(f"{LISTING_NAMESPACE}:v[0-9]*")]
    assert ttls and all(0 < ttl <= 2000 for ttl in ttls)
