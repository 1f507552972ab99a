"""The waitlist: buyers who come after the sell-out wait in line, and every seat
that comes back is offered to them in strict order, as a hold in their name;
nobody outside the line takes a returned seat while anyone waits."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.factories import auth_header, book, create_event, seat_books, user_token
from ticketmania.db.engine import get_engine
from ticketmania.jobs import run_job
from ticketmania.settings import get_settings


def join(client, token, event_id, seats=1):
    return client.post(
        f"/events/{event_id}/waitlist",
        json={"seats": seats},
        headers=auth_header(token),
    )


def me(client, token, event_id):
    return client.get(f"/events/{event_id}/waitlist/me", headers=auth_header(token))


def cancel(client, token, booking_id):
    return client.post(f"/bookings/{booking_id}/cancel", headers=auth_header(token))


def statuses(event_id):
    with get_engine().connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT user_id, status FROM waitlist_entries "
                    "WHERE event_id = :id ORDER BY id"
                ),
                {"id": event_id},
            )
        ]


@pytest.fixture
def sold_out(client, admin):
    """An event of 4 seats, sold out to two holders of 2 each."""
    event = create_event(client, admin, total_seats=4)
    holders = [user_token(client) for _ in range(2)]
    bookings = [book(client, token, event["id"], 2).json() for _, token in holders]
    return event, holders, bookings


def test_joining_is_for_when_the_seats_cannot_be_booked(client, admin, sold_out):
    event, _, _ = sold_out
    roomy = create_event(client, admin, total_seats=10)
    user, token = user_token(client)
    refused = join(client, token, roomy["id"], 2)
    assert (refused.status_code, refused.json()["code"]) == (409, "seats_available")
    joined = join(client, token, event["id"], 2)
    assert joined.status_code == 201, joined.text
    assert joined.json() == {
        "event_id": event["id"],
        "ticket_type_id": None,
        "user_id": user["id"],
        "seats": 2,
        "status": "waiting",
        "position": 1,
        "booking_id": None,
        "offer_expires_at": None,
        "created_at": joined.json()["created_at"],
    }
    twice = join(client, token, event["id"], 1)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_waiting")
    _, second = user_token(client)
    assert join(client, second, event["id"]).json()["position"] == 2


def test_a_cancelled_event_is_404_and_the_cap_still_counts(client, admin, sold_out):
    event, holders, _ = sold_out
    _, token = holders[0]
    over = join(client, token, event["id"], 9)  # 2 booked + 9 > 10
    assert (over.status_code, over.json()["code"]) == (409, "limit_exceeded")
    waiting = user_token(client)[1]
    assert join(client, waiting, event["id"], 1).status_code == 201
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    gone = join(client, token, event["id"], 1)
    assert gone.status_code == 404
    # Everything under the cancelled event is gone, like the event itself: its
    # line, for the admin, and one's place in it (only its bookings stay readable).
    line = client.get(f"/events/{event['id']}/waitlist", headers=auth_header(admin))
    assert (line.status_code, line.json()["code"]) == (404, "not_found")
    place = me(client, waiting, event["id"])
    assert (place.status_code, place.json()["code"]) == (404, "not_found")


def test_seats_that_come_back_are_offered_in_order_and_nobody_else_takes_them(
    client, sold_out
):
    event, holders, bookings = sold_out
    line = [user_token(client) for _ in range(3)]
    for (_, token), seats in zip(line, (2, 1, 1), strict=True):
        assert join(client, token, event["id"], seats).status_code == 201
    # Two seats back: the first in line (2 seats) is offered them.
    assert cancel(client, holders[0][1], bookings[0]["id"]).status_code == 200
    first = me(client, line[0][1], event["id"]).json()
    assert first["status"] == "offered" and first["position"] == 1
    offer = client.get(
        f"/bookings/{first['booking_id']}", headers=auth_header(line[0][1])
    ).json()
    assert (offer["status"], offer["seats_booked"]) == ("held", 2)
    # Nobody outside the line books, the ones in it included.
    _, outsider = user_token(client)
    refused = book(client, outsider, event["id"], 1)
    assert (refused.status_code, refused.json()["code"]) == (409, "sold_out")
    # The first accepts; the next two seats go to the next two, in order.
    accepted = client.post(
        f"/bookings/{first['booking_id']}/confirm", headers=auth_header(line[0][1])
    )
    assert accepted.json()["status"] == "confirmed"
    assert me(client, line[0][1], event["id"]).json()["status"] == "accepted"
    assert cancel(client, holders[1][1], bookings[1]["id"]).status_code == 200
    assert [me(client, t, event["id"]).json()["status"] for _, t in line] == [
        "accepted",
        "offered",
        "offered",
    ]
    books = seat_books(event["id"])
    assert books.available == 0


def test_nobody_jumps_ahead_of_an_entry_that_does_not_fit(client, sold_out):
    event, holders, bookings = sold_out
    (_, big), (_, small) = user_token(client), user_token(client)
    join(client, big, event["id"], 3)
    join(client, small, event["id"], 1)
    cancel(client, holders[0][1], bookings[0]["id"])  # 2 back: too few for 3
    assert me(client, big, event["id"]).json()["status"] == "waiting"
    assert me(client, small, event["id"]).json()["status"] == "waiting"
    _, outsider = user_token(client)
    assert book(client, outsider, event["id"], 1).json()["code"] == "sold_out"
    cancel(client, holders[1][1], bookings[1]["id"])  # 4 back: 3, then 1
    assert me(client, big, event["id"]).json()["status"] == "offered"
    assert me(client, small, event["id"]).json()["status"] == "offered"


def test_a_declined_offer_passes_on(client, sold_out):
    event, holders, bookings = sold_out
    (_, first), (_, second) = user_token(client), user_token(client)
    join(client, first, event["id"], 2)
    join(client, second, event["id"], 2)
    cancel(client, holders[0][1], bookings[0]["id"])
    assert me(client, first, event["id"]).json()["status"] == "offered"
    left = client.delete(
        f"/events/{event['id']}/waitlist/me", headers=auth_header(first)
    )
    assert left.status_code == 204
    # Gone for the one who left (the admin's line keeps the entry, "left").
    assert me(client, first, event["id"]).status_code == 404
    assert me(client, second, event["id"]).json()["status"] == "offered"
    again = client.delete(
        f"/events/{event['id']}/waitlist/me", headers=auth_header(first)
    )
    assert again.status_code == 404


def test_an_offer_that_lapses_passes_on_to_the_second(client, sold_out, monkeypatch):
    # Long enough that the second's offer is still open when read, however busy the machine.
    monkeypatch.setattr(get_settings(), "waitlist_offer_seconds", 3)
    event, holders, bookings = sold_out
    (_, first), (_, second) = user_token(client), user_token(client)
    join(client, first, event["id"], 2)
    join(client, second, event["id"], 2)
    cancel(client, holders[0][1], bookings[0]["id"])
    offer = me(client, first, event["id"]).json()
    assert offer["status"] == "offered"
    time.sleep(3.5)
    run_job("expire-holds")
    assert me(client, first, event["id"]).json()["status"] == "expired"
    assert me(client, second, event["id"]).json()["status"] == "offered"
    late = client.post(
        f"/bookings/{offer['booking_id']}/confirm", headers=auth_header(first)
    )
    assert (late.status_code, late.json()["code"]) == (409, "hold_expired")


def test_an_offer_that_lapsed_passes_on_when_read_with_no_job(
    client, sold_out, monkeypatch
):
    monkeypatch.setattr(get_settings(), "waitlist_offer_seconds", 1)
    event, holders, bookings = sold_out
    (_, first), (_, second) = user_token(client), user_token(client)
    join(client, first, event["id"], 2)
    join(client, second, event["id"], 2)
    cancel(client, holders[0][1], bookings[0]["id"])
    time.sleep(1.5)
    assert me(client, second, event["id"]).json()["status"] == "offered"


def test_the_admin_reads_the_whole_line_in_order(client, admin, sold_out):
    event, _, _ = sold_out
    line = [user_token(client) for _ in range(3)]
    for _, token in line:
        join(client, token, event["id"], 1)
    client.delete(f"/events/{event['id']}/waitlist/me", headers=auth_header(line[1][1]))
    answer = client.get(f"/events/{event['id']}/waitlist", headers=auth_header(admin))
    assert answer.headers["X-Total-Count"] == "3"
    assert [(e["user_id"], e["status"], e["position"]) for e in answer.json()] == [
        (line[0][0]["id"], "waiting", 1),
        (line[1][0]["id"], "left", None),
        (line[2][0]["id"], "waiting", 2),
    ]
    _, stranger = user_token(client)
    forbidden = client.get(
        f"/events/{event['id']}/waitlist", headers=auth_header(stranger)
    )
    assert forbidden.status_code == 403


def test_not_on_the_list_is_404(client, sold_out):
    event, _, _ = sold_out
    _, token = user_token(client)
    assert me(client, token, event["id"]).status_code == 404


def test_offers_stay_in_strict_order_under_concurrent_cancellations(
    client, admin, live_server
):
    """Eight one-seat bookings cancelled at once, eight in line: each offer goes
    to the earliest entry still waiting, whatever order the cancellations land
    in. Repeated for several rounds."""
    import httpx

    for _ in range(4):
        event = create_event(client, admin, total_seats=8)
        holders = [user_token(client)[1] for _ in range(8)]
        booked = [book(client, token, event["id"], 1).json() for token in holders]
        line = [user_token(client) for _ in range(10)]
        for _, token in line:
            assert join(client, token, event["id"], 1).status_code == 201
        barrier = threading.Barrier(8, timeout=60)

        def give_back(index, booked=booked, holders=holders, barrier=barrier):
            with httpx.Client(base_url=live_server, timeout=30) as http:
                http.get("/health")
                barrier.wait()
                return http.post(
                    f"/bookings/{booked[index]['id']}/cancel",
                    headers=auth_header(holders[index]),
                ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(give_back, range(8))) == [200] * 8
        states = [status for _, status in statuses(event["id"])]
        assert states == ["offered"] * 8 + ["waiting"] * 2
        books = seat_books(event["id"])
        assert books.available == books.total - books.confirmed - 8 == 0


def test_under_the_local_server_an_offer_follows_a_lapse_within_seconds(
    client, admin, monkeypatch, tmp_path
):
    """No request reads anything: the scheduled expire-holds (every second)
    alone settles the hold that lapsed and offers its seats, within seconds of
    the lapse (10 s allowed, for a busy machine)."""
    import os
    import signal

    from tests.integration.test_cli import serve_one_worker, wait_for_health
    from tests.services import free_port

    monkeypatch.setattr(get_settings(), "hold_seconds", 2)
    event = create_event(client, admin, total_seats=2)
    _, holder = user_token(client)
    waiter, token = user_token(client)
    held = client.post(
        "/bookings",
        json={"event_id": event["id"], "seats_booked": 2, "hold": True},
        headers=auth_header(holder),
    ).json()
    assert join(client, token, event["id"], 2).status_code == 201
    port = free_port()
    env = {
        **os.environ,
        "TICKETMANIA_JOBS": "on",
        "TICKETMANIA_DATA_DIR": str(tmp_path),
    }
    with serve_one_worker(port, env) as process:
        try:
            wait_for_health(f"http://127.0.0.1:{port}", process)
            from datetime import UTC, datetime

            ends = datetime.fromisoformat(held["expires_at"].replace("Z", "+00:00"))
            time.sleep(max((ends - datetime.now(UTC)).total_seconds(), 0))
            deadline = time.monotonic() + 10
            while statuses(event["id"]) != [(waiter["id"], "offered")]:
                assert time.monotonic() < deadline, statuses(event["id"])
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


def test_an_offer_sends_its_email_once_and_an_accepted_one_its_confirmation(
    client, sold_out
):
    event, holders, bookings = sold_out
    _, token = user_token(client)
    join(client, token, event["id"], 2)
    cancel(client, holders[0][1], bookings[0]["id"])
    offer = me(client, token, event["id"]).json()
    client.post(f"/bookings/{offer['booking_id']}/confirm", headers=auth_header(token))
    run_job("relay-outbox")
    run_job("relay-outbox")
    mail = get_settings().ticketmania_data_dir / "mail"
    texts = [path.read_text() for path in sorted(mail.glob("*.eml"))]
    assert sum("are held for you" in text for text in texts) == 1
    assert (
        sum("is confirmed" in text for text in texts) == 3
    )  # two holders, then this one
