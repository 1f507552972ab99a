"""Holds: seats held while the buyer checks out, confirmed, extended, released,
and exactly expired, to the second, whether or not any job has run."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import auth_header, book, create_event, seat_books, user_token
from ticketmania.db.engine import get_engine
from ticketmania.jobs import JobInput, run_job
from ticketmania.settings import get_settings


@pytest.fixture
def short_holds(monkeypatch):
    """Holds of 2 s, extensions of 2 s, at most 5 s in all."""
    settings = get_settings()
    monkeypatch.setattr(settings, "hold_seconds", 2)
    monkeypatch.setattr(settings, "hold_extension_seconds", 2)
    monkeypatch.setattr(settings, "hold_max_seconds", 5)
    return settings


def hold(client, token, event_id, seats=1, *, key=None):
    headers = auth_header(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/bookings",
        json={"event_id": event_id, "seats_booked": seats, "hold": True},
        headers=headers,
    )


def parse(timestamp):
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def sleep_until(moment, plus=0.0):
    time.sleep(max((moment - datetime.now(UTC)).total_seconds() + plus, 0))


def outbox_topics(booking_id):
    with get_engine().connect() as connection:
        return sorted(
            connection.scalars(
                text("SELECT topic FROM outbox WHERE payload->>'booking_id' = :id"),
                {"id": str(booking_id)},
            )
        )


def test_a_hold_takes_seats_until_it_ends_and_sends_nothing_yet(client, admin):
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    before = datetime.now(UTC)
    response = hold(client, token, event["id"], 3)
    assert response.status_code == 201, response.text
    held = response.json()
    assert held["status"] == "held"
    ends = parse(held["expires_at"])
    assert (
        before + timedelta(seconds=899)
        < ends
        < datetime.now(UTC) + timedelta(seconds=901)
    )
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 7
    assert outbox_topics(held["id"]) == []  # the e-mail waits for the confirmation


def test_held_seats_count_toward_the_cap(client, admin):
    event = create_event(client, admin, total_seats=50)
    _, token = user_token(client)
    assert hold(client, token, event["id"], 8).status_code == 201
    refused = book(client, token, event["id"], 3)
    assert (refused.status_code, refused.json()["code"]) == (409, "limit_exceeded")
    assert book(client, token, event["id"], 2).status_code == 201


def test_confirm_makes_it_a_booking_once_and_sends_its_email(client, admin):
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    held = hold(client, token, event["id"], 2).json()
    confirmed = client.post(
        f"/bookings/{held['id']}/confirm", headers=auth_header(token)
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed" and "expires_at" not in body
    again = client.post(f"/bookings/{held['id']}/confirm", headers=auth_header(token))
    assert (again.status_code, again.json()) == (200, body)
    assert outbox_topics(held["id"]) == ["booking.confirmed"]
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 8


def test_an_admin_may_confirm_and_a_stranger_may_not(client, admin):
    event = create_event(client, admin, total_seats=10)
    _, token = user_token(client)
    _, stranger = user_token(client)
    held = hold(client, token, event["id"]).json()
    refused = client.post(
        f"/bookings/{held['id']}/confirm", headers=auth_header(stranger)
    )
    assert refused.status_code == 404
    by_admin = client.post(
        f"/bookings/{held['id']}/confirm", headers=auth_header(admin)
    )
    assert by_admin.json()["status"] == "confirmed"


def test_a_hold_ends_to_the_second_whether_or_not_a_job_runs(
    client, admin, short_holds
):
    """Never a second early: confirmed a second before its end; from its end
    on, expired, unconfirmable, and its seats booked by someone else."""
    short_holds.hold_seconds = 3  # room for a busy machine's slow request
    event = create_event(client, admin, total_seats=2)
    _, first = user_token(client)
    _, second = user_token(client)
    _, buyer = user_token(client)
    a = hold(client, first, event["id"]).json()
    b = hold(client, second, event["id"]).json()
    refused = book(client, buyer, event["id"], 1)  # marks the event sold out
    assert (refused.status_code, refused.json()["code"]) == (409, "sold_out")
    sleep_until(parse(a["expires_at"]), plus=-1.0)
    early = client.post(f"/bookings/{a['id']}/confirm", headers=auth_header(first))
    assert early.json()["status"] == "confirmed"
    sleep_until(parse(b["expires_at"]), plus=1.0)
    late = client.post(f"/bookings/{b['id']}/confirm", headers=auth_header(second))
    assert (late.status_code, late.json()["code"]) == (409, "hold_expired")
    read = client.get(f"/bookings/{b['id']}", headers=auth_header(second)).json()
    assert read["status"] == "expired"
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 1
    taken = book(client, buyer, event["id"], 1)
    assert taken.status_code == 201, taken.text
    books = seat_books(event["id"])
    assert (books.confirmed, books.available) == (2, 0)


def test_extensions_move_the_end_but_never_past_the_longest(client, admin, short_holds):
    event = create_event(client, admin, total_seats=5)
    _, token = user_token(client)
    held = hold(client, token, event["id"]).json()
    created = parse(
        client.get(f"/bookings/{held['id']}", headers=auth_header(token)).json()[
            "created_at"
        ]
    )
    longest = created + timedelta(seconds=5)
    ends = []
    while not ends or ends[-1] < longest:
        assert len(ends) < 8, ends
        time.sleep(0.8)
        answer = client.post(
            f"/bookings/{held['id']}/extend", headers=auth_header(token)
        )
        assert answer.status_code == 200, answer.text
        ends.append(parse(answer.json()["expires_at"]))
    assert ends == sorted(ends)
    assert ends[-1] == longest
    # At once, while the hold is still live: no further.
    answer = client.post(f"/bookings/{held['id']}/extend", headers=auth_header(token))
    assert (answer.status_code, answer.json()["code"]) == (409, "hold_extension_limit")
    sleep_until(ends[-1], plus=0.5)
    expired = client.post(f"/bookings/{held['id']}/extend", headers=auth_header(token))
    assert (expired.status_code, expired.json()["code"]) == (409, "hold_expired")


def test_extend_is_for_the_owner_and_for_holds(client, admin):
    event = create_event(client, admin, total_seats=5)
    _, token = user_token(client)
    held = hold(client, token, event["id"]).json()
    by_admin = client.post(f"/bookings/{held['id']}/extend", headers=auth_header(admin))
    assert by_admin.status_code == 404
    booked = book(client, token, event["id"], 1).json()
    not_held = client.post(
        f"/bookings/{booked['id']}/extend", headers=auth_header(token)
    )
    assert (not_held.status_code, not_held.json()["code"]) == (409, "not_held")


def test_cancelling_a_hold_releases_it_and_an_ended_one_is_expired(
    client, admin, short_holds
):
    event = create_event(client, admin, total_seats=4)
    _, token = user_token(client)
    first = hold(client, token, event["id"], 2).json()
    released = client.post(
        f"/bookings/{first['id']}/cancel", headers=auth_header(token)
    )
    assert released.json()["status"] == "cancelled"
    assert outbox_topics(first["id"]) == []  # no confirmation was sent: no e-mail
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 4
    second = hold(client, token, event["id"], 2).json()
    sleep_until(parse(second["expires_at"]), plus=0.5)
    late = client.post(f"/bookings/{second['id']}/cancel", headers=auth_header(token))
    assert (late.status_code, late.json()["code"]) == (409, "hold_expired")
    again = client.post(f"/bookings/{first['id']}/cancel", headers=auth_header(token))
    assert (again.status_code, again.json()["code"]) == (409, "already_cancelled")


def test_a_hold_works_with_idempotency_keys(client, admin):
    event = create_event(client, admin, total_seats=5)
    _, token = user_token(client)
    key = str(uuid.uuid4())
    first = hold(client, token, event["id"], 2, key=key)
    retry = hold(client, token, event["id"], 2, key=key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    as_booking = book(client, token, event["id"], 2, key=key)
    assert (as_booking.status_code, as_booking.json()["code"]) == (
        409,
        "idempotency_mismatch",
    )


def test_confirm_after_the_events_cancellation_is_event_closed(client, admin):
    event = create_event(client, admin, total_seats=5)
    _, token = user_token(client)
    held = hold(client, token, event["id"]).json()
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    refused = client.post(f"/bookings/{held['id']}/confirm", headers=auth_header(token))
    assert (refused.status_code, refused.json()["code"]) == (409, "event_closed")


def test_available_seats_are_total_minus_confirmed_minus_live_holds(
    client, admin, short_holds
):
    event = create_event(client, admin, total_seats=10, title="Counted")
    _, token = user_token(client)
    _, other = user_token(client)
    book(client, token, event["id"], 3)
    short_holds.hold_seconds = 60
    lasting = hold(client, other, event["id"], 2)
    assert lasting.status_code == 201
    short_holds.hold_seconds = 2
    short = hold(client, token, event["id"], 4).json()
    listed = client.get("/events", params={"q": "Counted"}).json()[0]
    assert (
        listed["available_seats"]
        == client.get(f"/events/{event['id']}").json()["available_seats"]
        == 10 - 3 - 2 - 4
    )
    sleep_until(parse(short["expires_at"]), plus=0.5)
    # Ended: free again, with no job run (the listing waits out its cache TTL).
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 10 - 3 - 2
    today = datetime.now(UTC).date()
    run_job("sales-report", JobInput(day=today))
    report = (
        get_settings().ticketmania_data_dir / "reports" / f"sales-{today}.csv"
    ).read_text()
    header, row = report.strip().splitlines()[:2]
    figures = dict(zip(header.split(","), row.split(","), strict=True))
    assert figures["seats_sold"] == "3"
    assert figures["seats_left"] == "5"
    assert figures["seats_held"] == "2"
    assert figures["seats_expired"] == "4"


def test_the_job_settles_ended_holds_once_and_sends_their_emails(
    client, admin, short_holds
):
    event = create_event(client, admin, total_seats=3)
    _, token = user_token(client)
    held = hold(client, token, event["id"], 3).json()
    sleep_until(parse(held["expires_at"]), plus=0.2)
    assert run_job("expire-holds")["seats_returned"] == 3
    assert run_job("expire-holds")["seats_returned"] == 0
    assert outbox_topics(held["id"]) == ["hold.expired"]
    run_job("relay-outbox")
    run_job("relay-outbox")
    mail = sorted((get_settings().ticketmania_data_dir / "mail").glob("*.eml"))
    assert len(mail) == 1
    assert "has expired" in mail[0].read_text()
    books = seat_books(event["id"])
    assert books.available == 3


def test_a_sweep_settles_a_hold_that_ends_while_it_looks_ahead(client, admin):
    """The sweep settles what is due at one instant, then asks when the next hold
    ends at a later one: a hold that ends in between must still be settled by this
    sweep, not left for the next scheduled run."""
    from ticketmania.cache import get_cache
    from ticketmania.db.engine import open_session
    from ticketmania.jobs.hold_expiry import expire_holds

    event = create_event(client, admin, total_seats=2)
    _, token = user_token(client)
    held = hold(client, token, event["id"], 2).json()
    ends = parse(held["expires_at"])
    # The settle's clock reads just before the end, the look-ahead's just after,
    # and from then on the clock is past it.
    readings = iter(
        [ends - timedelta(milliseconds=1), ends + timedelta(milliseconds=1)]
    )

    def clock():
        return next(readings, ends + timedelta(seconds=1))

    result = expire_holds(
        open_session,
        get_cache(),
        offer_seconds=60,
        sweep_seconds=30,
        clock=clock,
        sleep=lambda seconds: None,
    )
    assert result["seats_returned"] == 2
    assert seat_books(event["id"]).available == 2
