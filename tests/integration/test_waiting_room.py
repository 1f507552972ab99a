"""The waiting room: the queue's contract and invariants (docs/api.md,
"Waiting room"), against real Postgres and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import (
    auth_header,
    create_event,
    create_ticket_type,
    order,
    seat_books,
    user_token,
)
from tests.integration.test_races import released_together
from tests.services import free_port
from ticketmania.db.engine import get_engine, open_job_session


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def put_room(client, admin, event_id, **fields):
    now = datetime.now(UTC)
    body = {
        "enabled": True,
        "opens_at": iso(now - timedelta(minutes=20)),
        "on_sale_at": iso(now - timedelta(minutes=10)),
        "admit_per_minute": 60,
        **fields,
    }
    response = client.put(
        f"/events/{event_id}/waiting-room", json=body, headers=auth_header(admin)
    )
    assert response.status_code == 200, response.text
    return response.json()


def inlet(now: datetime | None = None) -> None:
    from ticketmania.cache import get_cache
    from ticketmania.waiting_room.inlet import run_inlet

    run_inlet(open_job_session, get_cache(), now=now or datetime.now(UTC))


def join(client, token, event_id):
    return client.post(f"/events/{event_id}/queue", headers=auth_header(token))


def me(client, token, event_id):
    return client.get(f"/events/{event_id}/queue/me", headers=auth_header(token))


def book_with(client, token, event_id, admission, **body):
    headers = auth_header(token)
    if admission is not None:
        headers["X-Admission-Token"] = admission
    return client.post(
        "/bookings",
        json={"event_id": event_id, "seats_booked": 1, **body},
        headers=headers,
    )


@pytest.fixture
def room_event(client, admin):
    event = create_event(client, admin, total_seats=50)
    put_room(client, admin, event["id"])
    return event


def admitted_token(client, token, event_id) -> str:
    entry = me(client, token, event_id).json()
    assert entry["status"] == "admitted", entry
    return entry["admission_token"]


# --- the room's settings -------------------------------------------------------------


def test_an_admin_sets_the_room_and_reads_it(client, admin):
    event = create_event(client, admin, total_seats=10)
    room = put_room(client, admin, event["id"], max_active_holds=5)
    assert room["admission_ttl_seconds"] == 600 and room["max_active_holds"] == 5
    read = client.get(
        f"/events/{event['id']}/waiting-room", headers=auth_header(admin)
    ).json()
    assert read == room
    _, buyer = user_token(client)
    refused = client.put(
        f"/events/{event['id']}/waiting-room",
        json={**room, "enabled": False},
        headers=auth_header(buyer),
    )
    assert refused.status_code == 403
    backwards = client.put(
        f"/events/{event['id']}/waiting-room",
        json={**room, "on_sale_at": room["opens_at"], "opens_at": room["on_sale_at"]},
        headers=auth_header(admin),
    )
    assert backwards.status_code == 422
    missing = client.put(
        "/events/999999999/waiting-room", json=room, headers=auth_header(admin)
    )
    assert missing.status_code == 404


# --- admission on the buyer's routes ---------------------------------------------------


def test_with_the_room_on_every_sale_needs_an_admission(client, admin, room_event):
    _, buyer = user_token(client)
    event_id = room_event["id"]
    kind = create_ticket_type(client, admin, event_id, name="Seat", price_minor=0)
    for answer in (
        book_with(client, buyer, event_id, None),
        book_with(client, buyer, event_id, None, hold=True),
        order(client, buyer, event_id, [(kind["id"], 1)]),
        order(client, buyer, event_id, [(kind["id"], 1)], hold=True),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "admission_required"
    assert seat_books(event_id).available == 50


def test_an_admission_works_once_for_its_user_and_event_only(client, admin, room_event):
    event_id = room_event["id"]
    _, buyer = user_token(client)
    _, other = user_token(client)
    assert join(client, buyer, event_id).status_code == 201
    inlet()
    admission = admitted_token(client, buyer, event_id)
    # Another user's, or for another event: refused, and nothing used up.
    other_event = create_event(client, admin, total_seats=5)
    put_room(client, admin, other_event["id"])
    for who, where in ((other, event_id), (buyer, other_event["id"])):
        refused = book_with(client, who, where, admission)
        assert (
            refused.status_code == 403 and refused.json()["code"] == "admission_invalid"
        )
    made = book_with(client, buyer, event_id, admission)
    assert made.status_code == 201, made.text
    again = book_with(client, buyer, event_id, admission)
    assert again.status_code == 409 and again.json()["code"] == "admission_used"
    # Fetched again, the token names the same admission: still used.
    refetched = admitted_token(client, buyer, event_id)
    third = book_with(client, buyer, event_id, refetched, hold=True)
    assert third.status_code == 409 and third.json()["code"] == "admission_used"
    assert seat_books(event_id).available == 49


def test_forged_expired_and_other_key_tokens_are_refused(client, admin, room_event):
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ticketmania.waiting_room import tokens

    event_id = room_event["id"]
    user, buyer = user_token(client)
    user_id = user["id"]
    now = datetime.now(UTC)
    stale = tokens.sign(
        event_id=event_id,
        user_id=user_id,
        position=1,
        issued_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
    )
    claims = {
        "iss": "ticketmania",
        "aud": f"event:{event_id}",
        "sub": str(user_id),
        "pos": 1,
        "jti": f"{event_id}:1",
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    good = tokens.sign(
        event_id=event_id,
        user_id=user_id,
        position=1,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    kid = jwt.get_unverified_header(good)["kid"]
    other_key = jwt.encode(
        claims,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": kid, "typ": "admission+jwt"},
    )
    hs = jwt.encode(
        claims, "x" * 64, algorithm="HS256", headers={"typ": "admission+jwt"}
    )
    for bad in (stale, other_key, hs, "not-a-token", good[:-4] + "AAAA"):
        refused = book_with(client, buyer, event_id, bad)
        assert refused.status_code == 403, (bad, refused.text)
        assert refused.json()["code"] == "admission_invalid"
    assert seat_books(event_id).available == 50


def test_without_a_room_the_header_is_not_needed(client, admin):
    event = create_event(client, admin, total_seats=5)
    _, buyer = user_token(client)
    assert book_with(client, buyer, event["id"], None).status_code == 201
    put_room(client, admin, event["id"], enabled=False)
    assert book_with(client, buyer, event["id"], None).status_code == 201


# --- the queue ---------------------------------------------------------------------------


def test_joining_twice_is_the_same_entry_and_the_inlet_admits_in_order(
    client, admin, room_event
):
    event_id = room_event["id"]
    buyers = [user_token(client)[1] for _ in range(5)]
    first = join(client, buyers[0], event_id)
    assert first.status_code == 201
    assert first.json() == {
        "status": "waiting",
        "position": 1,
        "serving": 0,
        "ahead": 0,
        "estimated_wait_seconds": 1,
    }
    repeat = join(client, buyers[0], event_id)
    assert repeat.status_code == 200 and repeat.json()["position"] == 1
    for index, buyer in enumerate(buyers[1:], start=2):
        assert join(client, buyer, event_id).json()["position"] == index
    assert me(client, buyers[4], event_id).json()["admission_token"] is None
    # 60 a minute, one minute's credit at most: every one of five is in.
    inlet()
    state = client.get(f"/events/{event_id}/queue")
    assert state.json() == {"serving": 5, "waiting": 0, "status": "open"}
    assert "max-age=1" in state.headers["Cache-Control"]
    for buyer in buyers:
        assert me(client, buyer, event_id).json()["status"] == "admitted"


def on_sale_a_second_ago(client, admin, *, buyers: int, **fields):
    """An event whose room's sale opened a second ago, its buyers queued:
    (the event, the moment, the buyers' tokens in queue order)."""
    event = create_event(client, admin, total_seats=100)
    now = datetime.now(UTC)
    put_room(
        client,
        admin,
        event["id"],
        opens_at=iso(now - timedelta(seconds=2)),
        on_sale_at=iso(now - timedelta(seconds=1)),
        **fields,
    )
    tokens = [user_token(client)[1] for _ in range(buyers)]
    for token in tokens:
        join(client, token, event["id"])
    return event, now, tokens


def test_the_inlet_keeps_to_the_rate_and_the_live_holds(client, admin):
    event, now, buyers = on_sale_a_second_ago(
        client, admin, buyers=10, admit_per_minute=60, max_active_holds=3
    )
    # Its first run counts a second since the on-sale: one place.
    inlet(now)
    serving = [client.get(f"/events/{event['id']}/queue").json()["serving"]]
    # Ten seconds later: ten more by the rate, but three live at most.
    inlet(now + timedelta(seconds=10))
    serving.append(client.get(f"/events/{event['id']}/queue").json()["serving"])
    assert serving == [1, 3]
    # Two of the three hold seats; one more place frees only when one is used up.
    for buyer in buyers[:2]:
        admission = admitted_token(client, buyer, event["id"])
        held = book_with(client, buyer, event["id"], admission, hold=True)
        assert held.status_code == 201, held.text
    inlet(now + timedelta(seconds=20))
    assert client.get(f"/events/{event['id']}/queue").json()["serving"] == 3
    assert me(client, buyers[3], event["id"]).json()["status"] == "waiting"


def test_an_admission_not_used_in_time_lapses_and_its_place_goes_to_the_next(
    client, admin
):
    event, now, _ = on_sale_a_second_ago(
        client, admin, buyers=3, admit_per_minute=1, admission_ttl_seconds=10
    )
    inlet(now + timedelta(seconds=60))  # a minute of credit: one place
    assert client.get(f"/events/{event['id']}/queue").json()["serving"] == 1
    # Eleven seconds on, nobody used it: the next one gets its place at once.
    inlet(now + timedelta(seconds=71))
    assert client.get(f"/events/{event['id']}/queue").json()["serving"] == 2


def test_the_prequeue_is_placed_by_one_random_draw_at_the_on_sale(client, admin):
    import time

    event = create_event(client, admin, total_seats=100)
    buyers = [user_token(client)[1] for _ in range(20)]
    late = user_token(client)[1]
    now = datetime.now(UTC)
    on_sale = now + timedelta(seconds=3)
    put_room(
        client,
        admin,
        event["id"],
        opens_at=iso(now - timedelta(seconds=1)),
        on_sale_at=iso(on_sale),
    )
    for buyer in buyers:
        early = join(client, buyer, event["id"])
        assert early.status_code == 201
        assert early.json()["status"] == "prequeue" and early.json()["position"] is None
    assert client.get(f"/events/{event['id']}/queue").json() == {
        "serving": 0,
        "waiting": 20,
        "status": "prequeue",
    }
    time.sleep(max((on_sale - datetime.now(UTC)).total_seconds(), 0) + 0.3)
    assert join(client, late, event["id"]).json()["position"] == 21
    positions = [me(client, buyer, event["id"]).json()["position"] for buyer in buyers]
    assert sorted(positions) == list(range(1, 21))
    assert positions != list(range(1, 21))  # joined in this order: 1 in 20! to be so


def test_joins_sent_at_once_get_unique_consecutive_positions(
    client, admin, room_event, live_server
):
    event_id = room_event["id"]
    buyers = [user_token(client)[1] for _ in range(12)]

    def joining(token):
        def call(http):
            response = http.post(
                f"/events/{event_id}/queue", headers=auth_header(token)
            )
            return response.status_code, response.json()["position"]

        return call

    # Every buyer twice, all released together.
    answers = released_together(live_server, [joining(t) for t in buyers * 2])
    assert all(status in (200, 201) for status, _ in answers)
    assert sorted(status for status, _ in answers).count(201) == len(buyers)
    by_buyer = {}
    for token, (_, position) in zip(buyers * 2, answers, strict=True):
        by_buyer.setdefault(token, set()).add(position)
    assert all(len(found) == 1 for found in by_buyer.values())
    assert sorted(p for (p,) in by_buyer.values()) == list(range(1, len(buyers) + 1))


def test_one_admission_buys_once_however_many_requests_carry_it(
    client, admin, room_event, live_server
):
    """Orders and holds made <= admissions: the same token sent ten times at
    once makes one booking."""
    event_id = room_event["id"]
    _, buyer = user_token(client)
    join(client, buyer, event_id)
    inlet()
    admission = admitted_token(client, buyer, event_id)

    def buy(http):
        return http.post(
            "/bookings",
            json={"event_id": event_id, "seats_booked": 1},
            headers={**auth_header(buyer), "X-Admission-Token": admission},
        ).status_code

    answers = released_together(live_server, [buy] * 10)
    assert sorted(answers) == [201] + [409] * 9
    with get_engine().connect() as connection:
        uses = connection.scalar(
            text("SELECT count(*) FROM admission_uses WHERE event_id = :id"),
            {"id": event_id},
        )
    assert uses == 1 and seat_books(event_id).available == 49


# --- Redis down ----------------------------------------------------------------------------


def test_with_redis_down_the_room_admits_nobody_new_but_admitted_tokens_still_buy(
    client, admin, room_event, monkeypatch
):
    from ticketmania.cache import Cache, build_redis

    event_id = room_event["id"]
    _, admitted = user_token(client)
    join(client, admitted, event_id)
    inlet()
    admission = admitted_token(client, admitted, event_id)
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("events.waiting_room_routes.get_cache", lambda: dead)
    monkeypatch.setattr("bookings.routes.get_cache", lambda: dead)
    _, newcomer = user_token(client)
    for answer in (
        join(client, newcomer, event_id),
        me(client, admitted, event_id),
        client.get(f"/events/{event_id}/queue"),
    ):
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert answer.json()["code"] == "unavailable"
    # Never fails open: without an admission, still no sale.
    refused = book_with(client, newcomer, event_id, None)
    assert refused.status_code == 403
    bought = book_with(client, admitted, event_id, admission)
    assert bought.status_code == 201, bought.text


def test_a_run_sweeps_each_second_while_a_sale_is_open_and_stops_when_none_is(
    client, admin
):
    from ticketmania.cache import get_cache
    from ticketmania.db.engine import open_session
    from ticketmania.waiting_room.inlet import run_inlet

    with open_session() as session:
        # Earlier tests' rooms off (as an admin would turn them off).
        session.execute(text("UPDATE waiting_rooms SET enabled = false"))
        session.execute(text("UPDATE events SET admission_required = false"))
        session.commit()
    idle = run_inlet(open_job_session, get_cache(), sweep_seconds=30)
    assert idle["steps"] == 1  # nothing open, nothing opening: one short run
    event, _, _ = on_sale_a_second_ago(client, admin, buyers=10, admit_per_minute=60)
    swept = run_inlet(open_job_session, get_cache(), sweep_seconds=2.5)
    assert swept["steps"] == 3
    # A place a second at 60 a minute, the first step's second included.
    assert 2 <= client.get(f"/events/{event['id']}/queue").json()["serving"] <= 4


def test_bad_input_to_the_room_and_the_queue_is_a_clear_4xx(client, admin, room_event):
    event_id = room_event["id"]
    _, buyer = user_token(client)
    good = {
        "enabled": True,
        "opens_at": "2030-01-01T00:00:00Z",
        "on_sale_at": "2030-01-01T00:10:00Z",
        "admit_per_minute": 60,
    }
    for bad in (
        {**good, "admit_per_minute": 0},
        {**good, "enabled": "yes"},
        {**good, "opens_at": "tomorrow"},
        {**good, "max_active_holds": -1},
        {**good, "admission_ttl_seconds": 5},
        {k: v for k, v in good.items() if k != "on_sale_at"},
    ):
        answer = client.put(
            f"/events/{event_id}/waiting-room", json=bad, headers=auth_header(admin)
        )
        assert answer.status_code == 422, (bad, answer.text)
    assert (
        client.get(
            f"/events/{event_id}/waiting-room", headers=auth_header(admin)
        ).json()["admit_per_minute"]
        == 60
    )  # nothing half-written
    assert join(client, buyer, 999_999_999).status_code == 404
    assert client.get("/events/0/queue").status_code == 422
    long = book_with(client, buyer, event_id, "x" * 2001)
    assert long.status_code == 422
    junk = book_with(client, buyer, event_id, "a.b.c")
    assert junk.status_code == 403 and junk.json()["code"] == "admission_invalid"
