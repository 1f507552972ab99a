"""Once an event sells out, refusals come from a Redis marker: no statement, no
connection. Whatever gives seats back takes the marker down, and the marker can
never hide seats given back while a refusal was in flight."""

import pytest

from tests.factories import auth_header, book, create_event, user_token
from tests.integration.test_events_cache import DatabaseActivity
from tests.services import free_port
from ticketmania import sold_out
from ticketmania.cache import Cache, build_redis, get_cache


def sell_out(client, admin, seats=2):
    event = create_event(client, admin, total_seats=seats)
    _, buyer = user_token(client)
    booking = book(client, buyer, event["id"], seats, key="buyer-key").json()
    return event, buyer, booking


def refuse(client, event_id, token, *, key=None):
    response = book(client, token, event_id, 1, key=key)
    assert (response.status_code, response.json()["code"]) == (409, "sold_out")
    return response


def test_a_refusal_on_a_sold_out_event_marks_it(client, admin):
    event, _, _ = sell_out(client, admin)
    _, late = user_token(client)
    assert not sold_out.read_marker(get_cache(), event["id"]).is_sold_out
    refuse(client, event["id"], late)
    assert sold_out.read_marker(get_cache(), event["id"]).is_sold_out


def test_marked_refusals_touch_no_database(client, admin):
    event, _, _ = sell_out(client, admin)
    _, late = user_token(client)
    refuse(client, event["id"], late)
    with DatabaseActivity() as activity:
        response = refuse(client, event["id"], late)
    assert activity.statements == 0 and activity.checkouts == 0
    assert "0 seats left" in response.json()["detail"]


def test_a_retry_under_its_key_still_gets_the_original_when_marked(client, admin):
    event, buyer, booking = sell_out(client, admin)
    _, late = user_token(client)
    refuse(client, event["id"], late)
    retry = book(client, buyer, event["id"], 2, key="buyer-key")
    assert (retry.status_code, retry.json()) == (200, booking)
    refuse(client, event["id"], late, key="never-used")


@pytest.mark.parametrize("give_back", ["cancel_booking", "resize", "cancel_event"])
def test_giving_seats_back_takes_the_marker_down(client, admin, give_back):
    event, buyer, booking = sell_out(client, admin)
    _, late = user_token(client)
    refuse(client, event["id"], late)
    if give_back == "cancel_booking":
        client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(buyer))
    elif give_back == "resize":
        client.patch(
            f"/events/{event['id']}",
            json={"total_seats": 3},
            headers=auth_header(admin),
        )
    else:
        client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    assert not sold_out.read_marker(get_cache(), event["id"]).is_sold_out
    if give_back != "cancel_event":
        assert book(client, late, event["id"], 1).status_code == 201


def test_seats_given_back_during_a_refusal_are_not_hidden(client, admin):
    event, _, _ = sell_out(client, admin)
    cache = get_cache()
    # A refusal read the generation, then asked Postgres (no seats) ...
    before = sold_out.read_marker(cache, event["id"])
    # ... meanwhile a cancellation committed and took any marker down ...
    sold_out.seats_given_back(cache, event["id"])
    # ... and only then the refusal marks: it must not stick.
    sold_out.mark_sold_out(cache, event["id"], generation=before.generation)
    assert not sold_out.read_marker(cache, event["id"]).is_sold_out


def test_the_marker_expires_on_its_own(client, admin):
    event, _, _ = sell_out(client, admin)
    _, late = user_token(client)
    refuse(client, event["id"], late)
    ttl = get_cache().client.pttl(f"seats:sold-out:{event['id']}")
    assert 0 < ttl <= sold_out.MARKER_SECONDS * 1000


def test_with_redis_down_bookings_ask_postgres(client, admin, monkeypatch):
    dead = Cache(
        build_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.1),
        breaker_seconds=5,
    )
    monkeypatch.setattr("bookings.routes.get_cache", lambda: dead)
    event, _, _ = sell_out(client, admin)
    _, late = user_token(client)
    refuse(client, event["id"], late)
    roomy = create_event(client, admin)
    assert book(client, late, roomy["id"], 1).status_code == 201
