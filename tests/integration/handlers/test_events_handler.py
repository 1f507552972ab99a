"""EventsFunction's handler fed the events/ samples."""

import pytest

from tests.factories import create_event, user_token
from tests.lambda_events import invoke, load_event, with_overrides

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "EventsFunction"


@pytest.fixture(scope="module")
def handler():
    from events.app import handler

    return handler


def test_list_event(handler, client, admin):
    for _ in range(3):
        create_event(client, admin)
    response = invoke(handler, load_event("http_api_events_list"))
    assert response.status == 200
    assert len(response.json()) == 3
    assert response.headers["x-total-count"] == "3"
    cached = invoke(handler, load_event("http_api_events_list"))
    assert cached.body == response.body


def test_list_event_links_use_the_gateway_host(handler, client, admin):
    for _ in range(3):
        create_event(client, admin)
    event = load_event("http_api_events_list")
    event["rawQueryString"] = "limit=1"
    event["queryStringParameters"] = {"limit": "1"}
    response = invoke(handler, event)
    assert (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/events?limit=1&offset=1"
        in response.headers["link"]
    )


def test_get_event(handler, client, admin):
    created = create_event(client, admin)
    response = invoke(
        handler,
        with_overrides(
            load_event("http_api_events_get"),
            path_parameters={"id": str(created["id"])},
        ),
    )
    assert response.status == 200
    assert response.json() == created


def test_get_unknown_event_is_404(handler):
    response = invoke(
        handler,
        with_overrides(
            load_event("http_api_events_get"), path_parameters={"id": "999"}
        ),
    )
    assert (response.status, response.json()["code"]) == (404, "not_found")


def test_create_event(handler, admin):
    response = invoke(
        handler, with_overrides(load_event("http_api_events_create"), token=admin)
    )
    assert response.status == 201
    assert response.json()["available_seats"] == 500


def test_create_event_as_a_user_is_403(handler, client):
    _, token = user_token(client)
    response = invoke(
        handler, with_overrides(load_event("http_api_events_create"), token=token)
    )
    assert (response.status, response.json()["code"]) == (403, "forbidden")


def test_create_event_with_the_sample_placeholder_is_401(handler):
    assert invoke(handler, load_event("http_api_events_create")).status == 401


def test_update_event(handler, client, admin):
    created = create_event(client, admin, total_seats=500)
    event = with_overrides(
        load_event("http_api_events_update"),
        token=admin,
        path_parameters={"id": str(created["id"])},
    )
    response = invoke(handler, event)
    assert response.status == 200
    assert (response.json()["total_seats"], response.json()["available_seats"]) == (
        600,
        600,
    )


def test_cancel_event(handler, client, admin):
    created = create_event(client, admin)
    event = with_overrides(
        load_event("http_api_events_cancel"),
        token=admin,
        path_parameters={"id": str(created["id"])},
    )
    response = invoke(handler, event)
    assert response.status == 204
    assert response.body == ""
    assert invoke(handler, event).status == 404


def test_bad_input_through_the_handler(handler, admin):
    bad = with_overrides(
        load_event("http_api_events_create"),
        token=admin,
        body={"title": "", "total_seats": 0},
    )
    response = invoke(handler, bad)
    assert (response.status, response.json()["code"]) == (422, "validation_error")
    malformed = with_overrides(
        load_event("http_api_events_get"), path_parameters={"id": "abc"}
    )
    assert invoke(handler, malformed).status == 422


def test_ticket_types_and_quotas_through_the_handler_and_their_samples(
    handler, client, admin
):
    from tests.factories import create_event

    event = str(create_event(client, admin, total_seats=30)["id"])
    created = invoke(
        handler,
        with_overrides(
            load_event("http_api_ticket_types_create"),
            token=admin,
            path_parameters={"id": event},
        ),
    )
    assert created.status == 201, created.json()
    type_id = str(created.json()["id"])
    listed = invoke(
        handler,
        with_overrides(
            load_event("http_api_ticket_types_list"), path_parameters={"id": event}
        ),
    )
    assert [t["name"] for t in listed.json()] == ["Admission", "VIP"]
    patched = invoke(
        handler,
        with_overrides(
            load_event("http_api_ticket_types_update"),
            token=admin,
            path_parameters={"id": type_id},
        ),
    )
    assert patched.json()["price_minor"] == 4900
    quota = invoke(
        handler,
        with_overrides(
            load_event("http_api_quotas_create"),
            token=admin,
            path_parameters={"id": event},
            body={"name": "Floor", "size": 20, "ticket_type_ids": [int(type_id)]},
        ),
    )
    assert quota.status == 201, quota.json()
    quota_id = str(quota.json()["id"])
    for name in ("http_api_quotas_get", "http_api_quotas_update"):
        answer = invoke(
            handler,
            with_overrides(
                load_event(name), token=admin, path_parameters={"id": quota_id}
            ),
        )
        assert answer.status == 200, answer.json()
    assert answer.json()["size"] == 250
    quotas = invoke(
        handler,
        with_overrides(
            load_event("http_api_quotas_list"),
            token=admin,
            path_parameters={"id": event},
        ),
    )
    assert [q["id"] for q in quotas.json()] == [int(quota_id)]
    deleted = invoke(
        handler,
        with_overrides(
            load_event("http_api_ticket_types_delete"),
            token=admin,
            path_parameters={"id": type_id},
        ),
    )
    assert deleted.status == 204


def test_the_waiting_room_through_the_handler_and_its_samples(handler, client, admin):
    event = str(create_event(client, admin, total_seats=30)["id"])
    put = invoke(
        handler,
        with_overrides(
            load_event("http_api_waiting_room_put"),
            token=admin,
            path_parameters={"id": event},
            body={
                "enabled": True,
                "opens_at": "2026-01-01T00:00:00Z",
                "on_sale_at": "2026-01-01T00:10:00Z",
                "admit_per_minute": 600,
            },
        ),
    )
    assert put.status == 200, put.json()
    got = invoke(
        handler,
        with_overrides(
            load_event("http_api_waiting_room_get"),
            token=admin,
            path_parameters={"id": event},
        ),
    )
    assert got.json()["admit_per_minute"] == 600
    _, buyer = user_token(client)
    joined = invoke(
        handler,
        with_overrides(
            load_event("http_api_queue_join"),
            token=buyer,
            path_parameters={"id": event},
        ),
    )
    assert joined.status == 201 and joined.json()["position"] == 1, joined.json()
    mine = invoke(
        handler,
        with_overrides(
            load_event("http_api_queue_me"), token=buyer, path_parameters={"id": event}
        ),
    )
    assert mine.json()["status"] == "waiting"
    state = invoke(
        handler,
        with_overrides(
            load_event("http_api_queue_state"), path_parameters={"id": event}
        ),
    )
    assert state.json() == {"serving": 0, "waiting": 1, "status": "open"}
