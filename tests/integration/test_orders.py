"""Ticket types, quotas and orders of several lines, through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import (
    assert_quotas_balance,
    auth_header,
    book,
    create_event,
    create_quota,
    create_ticket_type,
    order,
    user_token,
)


def types_of(client: TestClient, event_id: int) -> dict[str, dict[str, Any]]:
    response = client.get(f"/events/{event_id}/ticket-types")
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()}


def quota(client: TestClient, admin: str, quota_id: int) -> dict[str, Any]:
    response = client.get(f"/quotas/{quota_id}", headers=auth_header(admin))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_event_sells_through_its_default_type_as_before(client, admin):
    event = create_event(client, admin, total_seats=10)
    assert event["currency"] == "EUR"
    (default,) = client.get(f"/events/{event['id']}/ticket-types").json()
    assert default["is_default"] and default["price_minor"] == 0
    assert default["available"] == 10 and default["on_sale"]
    _, token = user_token(client)
    booked = book(client, token, event["id"], 3)
    assert booked.status_code == 201, booked.text
    assert set(booked.json()) == {
        "id",
        "user_id",
        "event_id",
        "seats_booked",
        "status",
        "created_at",
    }
    shown = client.get(f"/orders/{booked.json()['id']}", headers=auth_header(token))
    assert shown.json()["lines"] == [
        {"ticket_type_id": default["id"], "quantity": 3, "unit_price_minor": 0}
    ]
    assert types_of(client, event["id"])["Admission"]["available"] == 7


def test_an_order_of_several_lines_totals_at_the_prices_of_its_creation(client, admin):
    event = create_event(client, admin, total_seats=20, currency="SEK")
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=10000)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=2500)
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(vip["id"], 1), (std["id"], 2)])
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["currency"] == "SEK" and body["total_minor"] == 15000
    # Priced: pending (its seats held) until its payment (test_payments.py).
    assert body["status"] == "pending" and body["expires_at"] is not None
    assert sorted(
        (line["ticket_type_id"], line["quantity"]) for line in body["lines"]
    ) == [(vip["id"], 1), (std["id"], 2)]
    client.patch(
        f"/ticket-types/{vip['id']}",
        json={"price_minor": 1},
        headers=auth_header(admin),
    )
    again = client.get(f"/orders/{body['id']}", headers=auth_header(token)).json()
    assert again["total_minor"] == 15000
    assert {line["unit_price_minor"] for line in again["lines"]} == {10000, 2500}
    assert (
        client.get(f"/bookings/{body['id']}", headers=auth_header(token)).json()[
            "seats_booked"
        ]
        == 3
    )
    mine = client.get("/orders/my", headers=auth_header(token)).json()
    assert [o["id"] for o in mine] == [body["id"]]


def test_an_order_takes_from_every_quota_or_from_none(client, admin):
    event = create_event(client, admin, total_seats=100)
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=9000)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=3000)
    small = create_quota(
        client, admin, event["id"], size=2, ticket_type_ids=[vip["id"]]
    )
    both = create_quota(
        client, admin, event["id"], size=5, ticket_type_ids=[vip["id"], std["id"]]
    )
    _, token = user_token(client)
    refused = order(client, token, event["id"], [(std["id"], 1), (vip["id"], 3)])
    assert refused.status_code == 409
    assert refused.json()["code"] == "sold_out"
    assert refused.json()["ticket_type_id"] == vip["id"]
    assert quota(client, admin, both["id"])["available"] == 5  # nothing taken
    placed = order(client, token, event["id"], [(std["id"], 2), (vip["id"], 2)])
    assert placed.status_code == 201, placed.text
    assert quota(client, admin, small["id"])["available"] == 0
    assert quota(client, admin, both["id"])["held"] == 4  # pending, priced
    shown = types_of(client, event["id"])
    assert shown["VIP"]["available"] == 0 and shown["Std"]["available"] == 1
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 96


def test_cancelling_gives_back_to_exactly_the_quotas_taken_from(client, admin):
    event = create_event(client, admin, total_seats=50)
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=1)
    first = create_quota(
        client, admin, event["id"], size=10, ticket_type_ids=[vip["id"]]
    )
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(vip["id"], 3)]).json()
    # The admin moves the type to another quota: the order still took from the first.
    second = create_quota(client, admin, event["id"], size=10, ticket_type_ids=[])
    client.patch(
        f"/quotas/{first['id']}",
        json={"ticket_type_ids": []},
        headers=auth_header(admin),
    )
    client.patch(
        f"/quotas/{second['id']}",
        json={"ticket_type_ids": [vip["id"]]},
        headers=auth_header(admin),
    )
    cancelled = client.post(
        f"/orders/{placed['id']}/cancel", headers=auth_header(token)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert quota(client, admin, first["id"])["available"] == 10
    assert quota(client, admin, second["id"])["available"] == 10
    again = client.post(f"/orders/{placed['id']}/cancel", headers=auth_header(token))
    assert again.json()["code"] == "already_cancelled"
    assert quota(client, admin, first["id"])["available"] == 10


def test_nested_early_bird_closes_for_good_and_the_outer_quota_stays(client, admin):
    event = create_event(client, admin, total_seats=400)
    early = create_ticket_type(client, admin, event["id"], name="Early", price_minor=10)
    late = create_ticket_type(client, admin, event["id"], name="Late", price_minor=20)
    inner = create_quota(
        client,
        admin,
        event["id"],
        size=3,
        ticket_type_ids=[early["id"]],
        close_when_sold_out=True,
    )
    middle = create_quota(
        client, admin, event["id"], size=5, ticket_type_ids=[early["id"], late["id"]]
    )
    tokens = [user_token(client)[1] for _ in range(3)]
    orders = [
        order(client, token, event["id"], [(early["id"], 1)]).json() for token in tokens
    ]
    assert quota(client, admin, inner["id"])["closed"] is True
    client.post(f"/orders/{orders[0]['id']}/cancel", headers=auth_header(tokens[0]))
    after = quota(client, admin, inner["id"])
    assert after["closed"] is True and after["available"] == 0 and after["held"] == 2
    refused = order(client, tokens[0], event["id"], [(early["id"], 1)])
    assert (
        refused.status_code == 409 and refused.json()["ticket_type_id"] == early["id"]
    )
    assert order(client, tokens[0], event["id"], [(late["id"], 3)]).status_code == 201
    assert quota(client, admin, middle["id"])["available"] == 0


def test_sale_window_and_max_per_order(client, admin):
    event = create_event(client, admin, total_seats=50)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    soon = create_ticket_type(
        client, admin, event["id"], name="Soon", sale_starts_at=later
    )
    capped = create_ticket_type(
        client, admin, event["id"], name="Capped", max_per_order=2
    )
    assert types_of(client, event["id"])["Soon"]["on_sale"] is False
    _, token = user_token(client)
    refused = order(client, token, event["id"], [(soon["id"], 1)])
    assert refused.status_code == 409 and refused.json()["code"] == "not_on_sale"
    assert refused.json()["ticket_type_id"] == soon["id"]
    over = order(client, token, event["id"], [(capped["id"], 3)])
    assert over.status_code == 409 and over.json()["code"] == "limit_exceeded"
    mixed = order(client, token, event["id"], [(capped["id"], 1), (soon["id"], 1)])
    assert mixed.json()["code"] == "not_on_sale"
    unknown = order(client, token, event["id"], [(capped["id"], 1), (99999, 1)])
    assert unknown.status_code == 404
    duplicate = order(
        client, token, event["id"], [(capped["id"], 1), (capped["id"], 1)]
    )
    assert duplicate.status_code == 422
    assert client.get(f"/events/{event['id']}").json()["available_seats"] == 50


def test_quota_resize_never_below_used_and_type_delete_only_unsold(client, admin):
    event = create_event(client, admin, total_seats=50)
    vip = create_ticket_type(client, admin, event["id"], name="VIP")
    spare = create_ticket_type(client, admin, event["id"], name="Spare")
    q = create_quota(client, admin, event["id"], size=10, ticket_type_ids=[vip["id"]])
    _, token = user_token(client)
    assert order(client, token, event["id"], [(vip["id"], 4)]).status_code == 201
    below = client.patch(
        f"/quotas/{q['id']}", json={"size": 3}, headers=auth_header(admin)
    )
    assert below.status_code == 409 and below.json()["code"] == "quota_below_used"
    resized = client.patch(
        f"/quotas/{q['id']}", json={"size": 4}, headers=auth_header(admin)
    )
    assert resized.status_code == 200 and resized.json()["available"] == 0
    in_use = client.delete(f"/ticket-types/{vip['id']}", headers=auth_header(admin))
    assert in_use.status_code == 409 and in_use.json()["code"] == "ticket_type_in_use"
    gone = client.delete(f"/ticket-types/{spare['id']}", headers=auth_header(admin))
    assert gone.status_code == 204
    assert "Spare" not in types_of(client, event["id"])
    locked = client.patch(
        f"/events/{event['id']}", json={"currency": "USD"}, headers=auth_header(admin)
    )
    assert locked.status_code == 409 and locked.json()["code"] == "currency_locked"


def test_held_orders_confirm_extend_and_expire_back_into_their_quotas(client, admin):
    event = create_event(client, admin, total_seats=30)
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=0)
    q = create_quota(client, admin, event["id"], size=4, ticket_type_ids=[vip["id"]])
    _, token = user_token(client)
    held = order(client, token, event["id"], [(vip["id"], 2)], hold=True).json()
    assert held["status"] == "pending" and held["expires_at"] is not None
    assert quota(client, admin, q["id"])["held"] == 2
    confirmed = client.post(f"/orders/{held['id']}/confirm", headers=auth_header(token))
    assert confirmed.json()["status"] == "paid"
    assert quota(client, admin, q["id"])["confirmed"] == 2
    retry = order(client, token, event["id"], [(vip["id"], 1)], key="k1")
    same = order(client, token, event["id"], [(vip["id"], 1)], key="k1")
    assert retry.status_code == 201 and same.status_code == 200
    assert same.json()["id"] == retry.json()["id"]
    other = order(client, token, event["id"], [(vip["id"], 2)], key="k1")
    assert other.json()["code"] == "idempotency_mismatch"


def test_a_waitlist_entry_for_a_type_is_offered_seats_of_it_from_its_quota(
    client, admin
):
    event = create_event(client, admin, total_seats=20)
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=700)
    q = create_quota(client, admin, event["id"], size=2, ticket_type_ids=[vip["id"]])
    buyer, waiter = user_token(client)[1], user_token(client)[1]
    placed = order(client, buyer, event["id"], [(vip["id"], 2)]).json()
    roomy = client.post(
        f"/events/{event['id']}/waitlist",
        json={"seats": 1},
        headers=auth_header(waiter),
    )
    assert roomy.json()["code"] == "seats_available"  # the default type has seats
    joined = client.post(
        f"/events/{event['id']}/waitlist",
        json={"seats": 1, "ticket_type_id": vip["id"]},
        headers=auth_header(waiter),
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["ticket_type_id"] == vip["id"]
    client.post(f"/orders/{placed['id']}/cancel", headers=auth_header(buyer))
    entry = client.get(
        f"/events/{event['id']}/waitlist/me", headers=auth_header(waiter)
    ).json()
    assert entry["status"] == "offered"
    offer = client.get(
        f"/orders/{entry['booking_id']}", headers=auth_header(waiter)
    ).json()
    assert offer["status"] == "pending" and offer["total_minor"] == 700
    assert offer["lines"] == [
        {"ticket_type_id": vip["id"], "quantity": 1, "unit_price_minor": 700}
    ]
    assert quota(client, admin, q["id"])["held"] == 1
    assert quota(client, admin, q["id"])["available"] == 1
    assert_quotas_balance(event["id"])
