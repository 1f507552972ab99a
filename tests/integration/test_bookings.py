"""Every bookings rule of docs/api.md through HTTP on the local gateway."""

import threading

import pytest
from sqlalchemy import func, select, text

from tests.factories import auth_header, book, create_event, user_token
from ticketmania.db.engine import get_engine, open_session
from ticketmania.db.models import Booking, OutboxMessage


@pytest.fixture
def event(client, admin):
    return create_event(client, admin, total_seats=50)


@pytest.fixture
def user(client):
    return user_token(client)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def seats_of(client, event_id):
    return client.get(f"/events/{event_id}").json()["available_seats"]


def confirmed_seats(event_id):
    with open_session() as session:
        return session.scalar(
            select(func.coalesce(func.sum(Booking.seats_booked), 0)).where(
                Booking.event_id == event_id, Booking.status == "confirmed"
            )
        )


def move_event_into_the_past(event_id):
    with get_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE events SET event_date = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": event_id},
        )


# --- booking ------------------------------------------------------------------------------


def test_booking_takes_seats(client, event, user):
    profile, token = user
    response = book(client, token, event["id"], 3)
    assert response.status_code == 201
    booking = response.json()
    assert set(booking) == {
        "id",
        "user_id",
        "event_id",
        "seats_booked",
        "status",
        "created_at",
    }
    assert (
        booking["user_id"],
        booking["event_id"],
        booking["seats_booked"],
        booking["status"],
    ) == (profile["id"], event["id"], 3, "confirmed")
    assert seats_of(client, event["id"]) == 47


def test_booking_writes_an_outbox_message_in_the_same_transaction(client, event, user):
    booking = book(client, user[1], event["id"], 2).json()
    with open_session() as session:
        messages = session.scalars(select(OutboxMessage)).all()
    assert [
        (m.topic, m.payload["booking_id"], m.payload["seats_booked"]) for m in messages
    ] == [("booking.confirmed", booking["id"], 2)]


def test_sold_out_says_how_many_seats_are_left(client, admin, user):
    small = create_event(client, admin, total_seats=3)
    book(client, user[1], small["id"], 2)
    _, other = user_token(client)
    response = book(client, other, small["id"], 2)
    assert_error(response, 409, "sold_out")
    assert "1" in response.json()["detail"]
    assert seats_of(client, small["id"]) == 1


def test_booking_a_cancelled_event_is_closed(client, admin, event, user):
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    assert_error(book(client, user[1], event["id"]), 409, "event_closed")


def test_booking_a_past_event_is_closed(client, event, user):
    move_event_into_the_past(event["id"])
    assert_error(book(client, user[1], event["id"]), 409, "event_closed")


def test_booking_an_unknown_event_is_404(client, user):
    assert_error(book(client, user[1], 987654), 404, "not_found")


def test_per_user_cap_counts_confirmed_seats_only(client, event, user):
    token = user[1]
    first = book(client, token, event["id"], 6).json()
    assert_error(book(client, token, event["id"], 5), 409, "limit_exceeded")
    assert book(client, token, event["id"], 4).status_code == 201
    client.post(f"/bookings/{first['id']}/cancel", headers=auth_header(token))
    assert book(client, token, event["id"], 6).status_code == 201
    assert confirmed_seats(event["id"]) == 10


@pytest.mark.parametrize(
    "body",
    [
        {"event_id": 1, "seats_booked": 0},
        {"event_id": 1, "seats_booked": -1},
        {"event_id": 1, "seats_booked": 11},
        {"event_id": 1, "seats_booked": 10**40},
        {"event_id": 1, "seats_booked": 1.5},
        {"event_id": 1, "seats_booked": 2.0},
        {"event_id": 1, "seats_booked": "2"},
        {"event_id": 1, "seats_booked": None},
        {"event_id": 1, "seats_booked": True},
        {"event_id": 1},
        {"seats_booked": 1},
        {"event_id": "abc", "seats_booked": 1},
        {"event_id": 0, "seats_booked": 1},
        {"event_id": -5, "seats_booked": 1},
        {"event_id": 10**30, "seats_booked": 1},
        {"event_id": None, "seats_booked": 1},
        {"event_id": 1.0, "seats_booked": 1},
        [],
        "x",
        None,
    ],
)
def test_bad_booking_input_is_a_422_and_takes_nothing(client, event, user, body):
    if (
        isinstance(body, dict)
        and type(body.get("event_id")) is int
        and body["event_id"] == 1
    ):
        body = {**body, "event_id": event["id"]}
    response = client.post("/bookings", json=body, headers=auth_header(user[1]))
    assert_error(response, 422, "validation_error")
    assert seats_of(client, event["id"]) == 50


def test_broken_json_is_a_422(client, event, user):
    response = client.post(
        "/bookings",
        content='{"event_id": ',
        headers={**auth_header(user[1]), "content-type": "application/json"},
    )
    assert_error(response, 422, "validation_error")
    assert seats_of(client, event["id"]) == 50


def test_booking_needs_a_token(client, event):
    response = client.post(
        "/bookings", json={"event_id": event["id"], "seats_booked": 1}
    )
    assert_error(response, 401, "not_authenticated")


def test_a_token_revoked_by_a_password_change_cannot_book(client, event, user):
    _profile, token = user
    client.post(
        "/auth/password",
        json={
            "current_password": "correct horse battery",
            "new_password": "another secret",
        },
        headers=auth_header(token),
    )
    assert_error(book(client, token, event["id"]), 401, "invalid_token")
    assert_error(book(client, token, 999999), 401, "invalid_token")
    assert seats_of(client, event["id"]) == 50


def test_a_removed_users_token_cannot_book(client, event, user):
    profile, token = user
    with get_engine().begin() as connection:
        connection.execute(
            text("DELETE FROM users WHERE id = :id"), {"id": profile["id"]}
        )
    assert_error(book(client, token, event["id"]), 401, "invalid_token")


# --- idempotency --------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_original(client, event, user):
    first = book(client, user[1], event["id"], 2, key="order-1")
    retry = book(client, user[1], event["id"], 2, key="order-1")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert seats_of(client, event["id"]) == 48


def test_a_retry_after_the_event_sold_out_still_returns_the_original(
    client, admin, user
):
    tiny = create_event(client, admin, total_seats=2)
    first = book(client, user[1], tiny["id"], 2, key="k")
    assert book(client, user[1], tiny["id"], 2, key="k").json() == first.json()


def test_the_same_key_with_another_body_is_a_mismatch(client, admin, event, user):
    book(client, user[1], event["id"], 2, key="order-1")
    assert_error(
        book(client, user[1], event["id"], 3, key="order-1"),
        409,
        "idempotency_mismatch",
    )
    other = create_event(client, admin)
    assert_error(
        book(client, user[1], other["id"], 2, key="order-1"),
        409,
        "idempotency_mismatch",
    )
    assert seats_of(client, event["id"]) == 48


def test_keys_are_per_user(client, event, user):
    _, other = user_token(client)
    assert book(client, user[1], event["id"], 1, key="same").status_code == 201
    assert book(client, other, event["id"], 1, key="same").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_bad_keys_are_a_422(client, event, user, key):
    assert_error(
        book(client, user[1], event["id"], 1, key=key), 422, "validation_error"
    )


def test_a_failed_request_does_not_burn_its_key(client, admin, user):
    tiny = create_event(client, admin, total_seats=1)
    _, other = user_token(client)
    book(client, other, tiny["id"], 1)
    assert_error(book(client, user[1], tiny["id"], 1, key="k"), 409, "sold_out")
    roomy = create_event(client, admin)
    assert book(client, user[1], roomy["id"], 1, key="k").status_code == 201


# --- reads --------------------------------------------------------------------------------


def test_my_bookings_newest_first_paginated(client, admin, user):
    events = [create_event(client, admin) for _ in range(3)]
    made = [book(client, user[1], e["id"], 1).json()["id"] for e in events]
    _, other = user_token(client)
    book(client, other, events[0]["id"], 1)
    response = client.get("/bookings/my?limit=2", headers=auth_header(user[1]))
    assert [b["id"] for b in response.json()] == made[::-1][:2]
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]
    rest = client.get("/bookings/my?limit=2&offset=2", headers=auth_header(user[1]))
    assert [b["id"] for b in rest.json()] == [made[0]]


def test_get_booking_owner_admin_and_stranger(client, admin, event, user):
    booking = book(client, user[1], event["id"], 1).json()
    assert (
        client.get(f"/bookings/{booking['id']}", headers=auth_header(user[1])).json()
        == booking
    )
    assert (
        client.get(f"/bookings/{booking['id']}", headers=auth_header(admin)).json()
        == booking
    )
    _, stranger = user_token(client)
    assert_error(
        client.get(f"/bookings/{booking['id']}", headers=auth_header(stranger)),
        404,
        "not_found",
    )
    assert_error(
        client.get("/bookings/999999", headers=auth_header(user[1])), 404, "not_found"
    )
    assert_error(
        client.get("/bookings/abc", headers=auth_header(user[1])),
        422,
        "validation_error",
    )


def test_event_bookings_for_admins_only(client, admin, event, user):
    made = [book(client, user[1], event["id"], 1).json() for _ in range(2)]
    response = client.get(f"/events/{event['id']}/bookings", headers=auth_header(admin))
    assert [b["id"] for b in response.json()] == [made[1]["id"], made[0]["id"]]
    assert response.headers["X-Total-Count"] == "2"
    assert_error(
        client.get(f"/events/{event['id']}/bookings", headers=auth_header(user[1])),
        403,
        "forbidden",
    )
    assert_error(
        client.get("/events/999999/bookings", headers=auth_header(admin)),
        404,
        "not_found",
    )
    assert_error(
        client.get(f"/events/{event['id']}/bookings"), 401, "not_authenticated"
    )


def test_a_cancelled_events_bookings_stay_readable_as_cancelled(
    client, admin, event, user
):
    booking = book(client, user[1], event["id"], 2).json()
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    assert (
        client.get(f"/bookings/{booking['id']}", headers=auth_header(user[1])).json()[
            "status"
        ]
        == "cancelled"
    )
    listed = client.get(
        f"/events/{event['id']}/bookings", headers=auth_header(admin)
    ).json()
    assert [b["status"] for b in listed] == ["cancelled"]


# --- cancellation -------------------------------------------------------------------------


def test_cancel_returns_the_seats(client, event, user):
    booking = book(client, user[1], event["id"], 4).json()
    response = client.post(
        f"/bookings/{booking['id']}/cancel", headers=auth_header(user[1])
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert seats_of(client, event["id"]) == 50
    with open_session() as session:
        topics = session.scalars(
            select(OutboxMessage.topic).order_by(OutboxMessage.id)
        ).all()
    assert topics == ["booking.confirmed", "booking.cancelled"]


def test_cancelling_twice_is_a_conflict(client, event, user):
    booking = book(client, user[1], event["id"], 4).json()
    client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(user[1]))
    assert_error(
        client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(user[1])),
        409,
        "already_cancelled",
    )
    assert seats_of(client, event["id"]) == 50


def test_cancelling_after_the_event_started_is_closed(client, event, user):
    booking = book(client, user[1], event["id"], 4).json()
    move_event_into_the_past(event["id"])
    assert_error(
        client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(user[1])),
        409,
        "event_closed",
    )


def test_another_users_booking_cannot_be_cancelled(client, event, user):
    booking = book(client, user[1], event["id"], 4).json()
    _, stranger = user_token(client)
    assert_error(
        client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(stranger)),
        404,
        "not_found",
    )
    assert seats_of(client, event["id"]) == 46


def test_an_admin_can_cancel_anyones_booking(client, admin, event, user):
    booking = book(client, user[1], event["id"], 4).json()
    assert (
        client.post(
            f"/bookings/{booking['id']}/cancel", headers=auth_header(admin)
        ).json()["status"]
        == "cancelled"
    )


def test_no_booking_row_is_ever_deleted(client, admin, event, user):
    booking = book(client, user[1], event["id"], 1).json()
    client.post(f"/bookings/{booking['id']}/cancel", headers=auth_header(user[1]))
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    with open_session() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1


# --- the database's own guards ------------------------------------------------------------


def test_check_constraints_refuse_overbooking_even_behind_the_api(event):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError), get_engine().begin() as connection:
        connection.execute(
            text("UPDATE seat_shards SET available = -1 WHERE event_id = :id"),
            {"id": event["id"]},
        )
    with pytest.raises(DBAPIError), get_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE seat_shards SET available = available + 1 "
                "WHERE event_id = :id AND shard = 0"
            ),
            {"id": event["id"]},
        )


def test_a_constraint_violation_maps_to_409_not_500(client, event, user, monkeypatch):
    # Logic that forgot the seat check: the CHECK constraint still stops it, as a clean 409.
    from bookings import logic

    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE seat_shards SET available = 0 WHERE event_id = :id"),
            {"id": event["id"]},
        )

    def without_seat_check(session, cache, **kwargs):
        # Takes the seats with no guard at all, then writes the booking.
        session.execute(
            text(
                "UPDATE seat_shards SET available = available - :n WHERE event_id = :id"
            ),
            {"n": kwargs["seats"], "id": kwargs["event_id"]},
        )
        session.commit()

    monkeypatch.setattr(logic, "book_seats", without_seat_check)
    response = book(client, user[1], event["id"], 1)
    assert_error(response, 409, "conflict")
    assert "constraint" not in response.text.lower() and "events" not in response.text
    assert confirmed_seats(event["id"]) == 0


# --- a stuck lock ---------------------------------------------------------------------------


def test_a_stuck_lock_gives_503_not_a_hung_request(client, event, user):
    holder_ready = threading.Event()
    release = threading.Event()

    def hold_the_row():
        with get_engine().connect() as connection, connection.begin():
            connection.execute(
                text("SELECT 1 FROM events WHERE id = :id FOR UPDATE"),
                {"id": event["id"]},
            )
            holder_ready.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert holder_ready.wait(30), "the row was never locked"
        response = book(client, user[1], event["id"], 1)
        assert_error(response, 503, "unavailable")
        assert int(response.headers["Retry-After"]) > 0
    finally:
        release.set()
        holder.join()
    assert seats_of(client, event["id"]) == 50
    assert book(client, user[1], event["id"], 1).status_code == 201
