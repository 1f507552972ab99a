"""Orders over overlapping quotas, released together and repeated: opposite
line orders never deadlock into an error, no quota is ever oversold, an order
takes from every quota it touches or from none, resizes racing orders lose
no seat, and cancellations racing an admin re-typing a quota give back to
exactly what was taken."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.factories import (
    assert_quotas_balance,
    auth_header,
    create_event,
    create_quota,
    create_ticket_type,
    seat_books,
    user_token,
)
from tests.integration.test_races import released_together

ROUNDS = 6
BUYERS = 16


def post_order(token, event_id, lines):
    def call(http):
        response = http.post(
            "/orders",
            json={
                "event_id": event_id,
                "lines": [{"ticket_type_id": t, "quantity": q} for t, q in lines],
            },
            headers=auth_header(token),
        )
        return response.status_code, response.json()

    return call


def three_types_two_quotas(client, admin, *, event_seats=60, quota_size=30):
    """A, B, C; quota 1 over A and B, quota 2 over B and C: B is in both."""
    event = create_event(client, admin, total_seats=event_seats)
    a, b, c = (
        create_ticket_type(client, admin, event["id"], name=name, price_minor=price)[
            "id"
        ]
        for name, price in (("A", 1000), ("B", 2000), ("C", 3000))
    )
    q1 = create_quota(
        client, admin, event["id"], size=quota_size, ticket_type_ids=[a, b]
    )
    q2 = create_quota(
        client, admin, event["id"], size=quota_size, ticket_type_ids=[b, c]
    )
    return event["id"], (a, b, c), (q1["id"], q2["id"])


def assert_clean(results):
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, results
    codes = {body["code"] for status, body in results if status == 409}
    assert codes <= {"sold_out", "limit_exceeded"}, codes


def cancel_order(token, order_id):
    def call(http):
        response = http.post(f"/orders/{order_id}/cancel", headers=auth_header(token))
        return response.status_code, response.json()

    return call


def test_opposite_line_orders_over_shared_quotas_never_deadlock_or_oversell(
    client, admin, live_server
):
    """Orders of A, B, C in both line orders, with cancellations of earlier
    orders (which lock an event shard, then quota shards) released with them."""
    rng = random.Random(24)
    for _ in range(ROUNDS):
        event_id, (a, b, c), _ = three_types_two_quotas(client, admin)
        tokens = [user_token(client)[1] for _ in range(BUYERS)]
        earlier = [
            (
                token,
                client.post(
                    "/orders",
                    json={
                        "event_id": event_id,
                        "lines": [
                            {"ticket_type_id": a, "quantity": 2},
                            {"ticket_type_id": c, "quantity": 2},
                        ],
                    },
                    headers=auth_header(token),
                ).json()["id"],
            )
            for token in tokens[: BUYERS // 2]
        ]
        calls = []
        for index, token in enumerate(tokens):
            # Large enough that the fast pick often misses: the waiting pick
            # then locks the shards of both quotas while others hold some.
            x, y = rng.randint(1, 3), rng.randint(1, 3)
            lines = [(a, x), (b, y), (c, x)] if index % 2 else [(c, y), (b, x), (a, y)]
            calls.append(post_order(token, event_id, lines[: rng.randint(2, 3)]))
        calls += [cancel_order(token, order_id) for token, order_id in earlier]
        results = released_together(live_server, calls)
        orders, cancels = results[:BUYERS], results[BUYERS:]
        assert_clean(orders)
        assert all(status == 200 for status, _ in cancels), cancels
        assert any(status == 201 for status, _ in orders)
        assert_quotas_balance(event_id)
        books = seat_books(event_id)  # priced orders are held until paid
        assert books.available == books.total - books.confirmed - books.held


def test_quota_resizes_racing_orders_lose_no_seat(client, admin, live_server):
    rng = random.Random(7)
    for _ in range(ROUNDS):
        event_id, (a, b, c), (q1, q2) = three_types_two_quotas(client, admin)
        tokens = [user_token(client)[1] for _ in range(BUYERS)]
        calls = [
            post_order(token, event_id, [(rng.choice((a, b, c)), rng.randint(1, 4))])
            for token in tokens
        ]
        sizes = [rng.randint(0, 40) for _ in range(4)]

        def resize(quota_id, size):
            def call(http):
                response = http.patch(
                    f"/quotas/{quota_id}",
                    json={"size": size},
                    headers=auth_header(admin),
                )
                return response.status_code, response.json()

            return call

        calls += [resize(q1 if i % 2 else q2, size) for i, size in enumerate(sizes)]
        results = released_together(live_server, calls)
        orders, resizes = results[:BUYERS], results[BUYERS:]
        assert_clean(orders)
        assert {status for status, _ in resizes} <= {200, 409}, resizes
        assert {body["code"] for status, body in resizes if status == 409} <= {
            "quota_below_used"
        }
        assert_quotas_balance(event_id)


def test_cancellations_racing_a_quota_retyping_give_back_what_was_taken(
    client, admin, live_server
):
    for _ in range(ROUNDS):
        event_id, (a, b, c), (q1, q2) = three_types_two_quotas(client, admin)
        tokens = [user_token(client)[1] for _ in range(BUYERS)]
        placed = []
        for index, token in enumerate(tokens):
            response = client.post(
                "/orders",
                json={
                    "event_id": event_id,
                    "lines": [{"ticket_type_id": (a, b, c)[index % 3], "quantity": 1}],
                },
                headers=auth_header(token),
            )
            assert response.status_code == 201, response.text
            placed.append((token, response.json()["id"]))

        def retype(quota_id, type_ids):
            def call(http):
                response = http.patch(
                    f"/quotas/{quota_id}",
                    json={"ticket_type_ids": type_ids},
                    headers=auth_header(admin),
                )
                return response.status_code, response.json()

            return call

        calls = [cancel_order(token, order_id) for token, order_id in placed]
        calls += [retype(q1, [c]), retype(q2, [a])]
        results = released_together(live_server, calls)
        assert all(status == 200 for status, _ in results), results
        books = assert_quotas_balance(event_id)
        assert all(quota.used == 0 and quota.unsold == quota.size for quota in books)


def _sold_of_type(type_id):
    from sqlalchemy import text

    from ticketmania.db.engine import get_engine

    with get_engine().connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM order_lines AS l JOIN bookings AS b "
                "ON b.id = l.booking_id WHERE l.ticket_type_id = :t "
                "AND b.status IN ('confirmed', 'held')"
            ),
            {"t": type_id},
        )


@pytest.mark.parametrize("path", ["/orders", "/bookings"])
def test_a_type_deleted_while_an_order_of_it_waits_for_the_seats_is_not_sold(
    client, admin, live_server, path
):
    """The order's snapshot began before the delete committed: it must not
    sell the type once the delete has said 204 (nor the delete say 204 once
    the order sold it). Staged: an open transaction holds the event's shard,
    the DELETE waits on it, then the order (its fast pick skips the shard,
    its waiting pick waits), then the shard is let go."""
    import threading

    import httpx
    from sqlalchemy import text

    from tests.integration.test_seat_inventory import wait_for_lock_waiters
    from ticketmania.db.engine import get_engine

    event = create_event(client, admin, total_seats=10)
    if path == "/orders":
        type_id = create_ticket_type(client, admin, event["id"], price_minor=0)["id"]
        body = {
            "event_id": event["id"],
            "lines": [{"ticket_type_id": type_id, "quantity": 1}],
        }
    else:
        with get_engine().connect() as connection:
            type_id = connection.scalar(
                text("SELECT id FROM ticket_types WHERE event_id = :e AND is_default"),
                {"e": event["id"]},
            )
        body = {"event_id": event["id"], "seats_booked": 1}
    buyer = user_token(client)[1]
    answers: dict[str, httpx.Response] = {}

    def send(name, method, url, token, json=None):
        with httpx.Client(base_url=live_server, timeout=30) as http:
            answers[name] = http.request(
                method, url, json=json, headers=auth_header(token)
            )

    blocker = get_engine().connect()
    try:
        blocker.execute(
            text("SELECT 1 FROM seat_shards WHERE event_id = :e FOR UPDATE"),
            {"e": event["id"]},
        )
        delete = threading.Thread(
            target=send, args=("delete", "DELETE", f"/ticket-types/{type_id}", admin)
        )
        delete.start()
        wait_for_lock_waiters(1)
        order = threading.Thread(target=send, args=("order", "POST", path, buyer, body))
        order.start()
        wait_for_lock_waiters(2)
    finally:
        blocker.rollback()
        blocker.close()
    delete.join(30)
    order.join(30)
    deleted, ordered = answers["delete"], answers["order"]
    assert deleted.status_code in (204, 409), deleted.text
    assert ordered.status_code in (201, 409), ordered.text
    if deleted.status_code == 204:
        assert ordered.status_code == 409 and ordered.json()["code"] == "not_on_sale"
        assert _sold_of_type(type_id) == 0
    else:
        assert deleted.json()["code"] == "ticket_type_in_use"
        assert ordered.status_code == 201
