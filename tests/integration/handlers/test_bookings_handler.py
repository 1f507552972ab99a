"""BookingsFunction's handler fed the events/ samples."""

import pytest

from tests.factories import book, create_event, make_admin, user_token
from tests.lambda_events import invoke, load_event, with_overrides

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "BookingsFunction"


@pytest.fixture(scope="module")
def handler():
    from bookings.app import handler

    return handler


@pytest.fixture
def setup(client):
    admin = make_admin(client)[1]
    event = create_event(client, admin, total_seats=20)
    _, token = user_token(client)
    return admin, event, token


def create_sample(event_id, token):
    return with_overrides(
        load_event("http_api_bookings_create"),
        token=token,
        body={"event_id": event_id, "seats_booked": 2},
    )


def test_create_booking_and_its_retry(handler, setup):
    _, event, token = setup
    first = invoke(handler, create_sample(event["id"], token))
    assert first.status == 201
    retry = invoke(
        handler, create_sample(event["id"], token)
    )  # the sample carries an Idempotency-Key
    assert retry.status == 200
    assert retry.json() == first.json()


def test_create_booking_with_the_sample_placeholder_is_401(handler):
    assert invoke(handler, load_event("http_api_bookings_create")).status == 401


def test_my_bookings(handler, client, setup):
    _, event, token = setup
    book(client, token, event["id"], 1)
    response = invoke(
        handler, with_overrides(load_event("http_api_bookings_my"), token=token)
    )
    assert response.status == 200
    assert len(response.json()) == 1
    assert response.headers["x-total-count"] == "1"


def test_get_and_cancel_booking(handler, client, setup):
    _, event, token = setup
    booking = book(client, token, event["id"], 2).json()
    params = {"id": str(booking["id"])}
    got = invoke(
        handler,
        with_overrides(
            load_event("http_api_bookings_get"), token=token, path_parameters=params
        ),
    )
    assert got.json() == booking
    cancelled = invoke(
        handler,
        with_overrides(
            load_event("http_api_bookings_cancel"), token=token, path_parameters=params
        ),
    )
    assert (cancelled.status, cancelled.json()["status"]) == (200, "cancelled")
    again = invoke(
        handler,
        with_overrides(
            load_event("http_api_bookings_cancel"), token=token, path_parameters=params
        ),
    )
    assert (again.status, again.json()["code"]) == (409, "already_cancelled")


def test_event_bookings_for_an_admin(handler, client, setup):
    admin, event, token = setup
    book(client, token, event["id"], 1)
    sample = with_overrides(
        load_event("http_api_events_bookings"),
        token=admin,
        path_parameters={"id": str(event["id"])},
    )
    response = invoke(handler, sample)
    assert response.status == 200
    assert len(response.json()) == 1
    as_user = with_overrides(sample, token=token)
    assert invoke(handler, as_user).status == 403


@pytest.mark.parametrize("seats", [0, -1, 11, 1.5, "2", None, 10**20])
def test_bad_seats_through_the_handler(handler, client, setup, seats):
    _, event, token = setup
    sample = with_overrides(
        load_event("http_api_bookings_create"),
        token=token,
        body={"event_id": event["id"], "seats_booked": seats},
    )
    response = invoke(handler, sample)
    assert (response.status, response.json()["code"]) == (422, "validation_error")
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 20


def test_broken_json_through_the_handler(handler, setup):
    _, _, token = setup
    response = invoke(
        handler,
        with_overrides(
            load_event("http_api_bookings_create"), token=token, body="{nope"
        ),
    )
    assert response.status == 422


def test_orders_through_the_handler_and_its_samples(handler, client, setup):
    """The order samples, on the container's one connection through the pooler:
    an order of two types over a quota, its retry, its read and its cancel."""
    from tests.factories import create_quota, create_ticket_type

    admin, event, token = setup
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=900)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=100)
    create_quota(client, admin, event["id"], size=3, ticket_type_ids=[vip["id"]])
    body = {
        "event_id": event["id"],
        "lines": [
            {"ticket_type_id": vip["id"], "quantity": 2},
            {"ticket_type_id": std["id"], "quantity": 1},
        ],
    }
    sample = with_overrides(
        load_event("http_api_orders_create"), token=token, body=body
    )
    sample["headers"]["idempotency-key"] = "order-sample-1"
    first = invoke(handler, sample)
    assert first.status == 201, first.json()
    assert first.json()["total_minor"] == 1900
    retry = invoke(handler, sample)
    assert (retry.status, retry.json()) == (200, first.json())
    order_id = str(first.json()["id"])
    for name in ("http_api_orders_get", "http_api_orders_my"):
        read = invoke(
            handler,
            with_overrides(
                load_event(name), token=token, path_parameters={"id": order_id}
            ),
        )
        assert read.status == 200, read.json()
    cancelled = invoke(
        handler,
        with_overrides(
            load_event("http_api_orders_cancel"),
            token=token,
            path_parameters={"id": order_id},
        ),
    )
    assert cancelled.json()["status"] == "cancelled"
