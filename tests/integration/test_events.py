"""Every events rule of docs/api.md through HTTP on the local gateway."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tests.factories import (
    auth_header,
    create_event,
    event_body,
    insert_event_directly,
    make_admin,
    user_token,
)
from ticketmania.db.engine import get_engine, open_session
from ticketmania.db.models import Booking


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


# --- create -------------------------------------------------------------------------------


def test_admin_creates_an_event(client, admin):
    body = event_body(total_seats=120)
    response = client.post("/events", json=body, headers=auth_header(admin))
    assert response.status_code == 201
    event = response.json()
    assert set(event) == {
        "id",
        "title",
        "description",
        "location",
        "event_date",
        "total_seats",
        "available_seats",
        "currency",
        "buyers_cancel_lines",
        "created_at",
        "updated_at",
    }
    assert event["available_seats"] == event["total_seats"] == 120
    assert event["buyers_cancel_lines"] is False
    assert datetime.fromisoformat(event["event_date"]) == datetime.fromisoformat(
        body["event_date"]
    )


def test_available_seats_in_the_body_is_ignored(client, admin):
    event = create_event(client, admin, total_seats=10, available_seats=9999)
    assert event["available_seats"] == 10


def test_naive_event_date_is_read_as_utc(client, admin):
    naive = (datetime.now(UTC) + timedelta(days=3)).replace(tzinfo=None, microsecond=0)
    event = create_event(client, admin, event_date=naive.isoformat())
    assert datetime.fromisoformat(event["event_date"]) == naive.replace(tzinfo=UTC)


def test_description_is_optional(client, admin):
    body = event_body()
    del body["description"]
    assert (
        client.post("/events", json=body, headers=auth_header(admin)).json()[
            "description"
        ]
        is None
    )


def test_a_user_cannot_create_events(client):
    _, token = user_token(client)
    assert_error(
        client.post("/events", json=event_body(), headers=auth_header(token)),
        403,
        "forbidden",
    )


def test_creating_without_a_token_is_401(client):
    response = client.post("/events", json=event_body())
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_demoted_admins_old_token_cannot_write(client):
    admin_id, token = make_admin(client)
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE users SET role = 'user' WHERE id = :id"), {"id": admin_id}
        )
    assert_error(
        client.post("/events", json=event_body(), headers=auth_header(token)),
        403,
        "forbidden",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": None},
        {"title": 5},
        {"location": ""},
        {"location": "x" * 201},
        {"description": "x" * 5001},
        {"event_date": "2000-01-01T00:00:00Z"},
        {"event_date": "yesterday"},
        {"event_date": None},
        {"event_date": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        {"total_seats": 0},
        {"total_seats": -1},
        {"total_seats": 1_000_001},
        {"total_seats": 1.5},
        {"total_seats": "10"},
        {"total_seats": None},
        {"total_seats": True},
        {"total_seats": 10**30},
    ],
)
def test_bad_create_input_is_a_422(client, admin, overrides):
    response = client.post(
        "/events", json=event_body(**overrides), headers=auth_header(admin)
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("missing", ["title", "location", "event_date", "total_seats"])
def test_missing_required_field_is_a_422(client, admin, missing):
    body = event_body()
    del body[missing]
    assert_error(
        client.post("/events", json=body, headers=auth_header(admin)),
        422,
        "validation_error",
    )


def test_broken_json_is_a_422(client, admin):
    response = client.post(
        "/events",
        content="{oops",
        headers={**auth_header(admin), "content-type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


def test_boundaries_are_accepted(client, admin):
    event = create_event(
        client,
        admin,
        title="x" * 200,
        location="y" * 200,
        description="z" * 5000,
        total_seats=1_000_000,
    )
    assert event["total_seats"] == 1_000_000
    assert create_event(client, admin, total_seats=1)["available_seats"] == 1


# --- read ---------------------------------------------------------------------------------


def test_anyone_reads_one_event(client, admin):
    event = create_event(client, admin)
    assert client.get(f"/events/{event['id']}").json() == event


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", "99999999999999999999999"])
def test_malformed_event_id_is_a_422(client, bad_id):
    assert_error(client.get(f"/events/{bad_id}"), 422, "validation_error")


def test_unknown_event_is_404(client):
    assert_error(client.get("/events/424242"), 404, "not_found")


# --- update -------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(client, admin):
    event = create_event(client, admin)
    response = client.patch(
        f"/events/{event['id']}", json={"title": "Renamed"}, headers=auth_header(admin)
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Renamed"
    assert {k: v for k, v in updated.items() if k not in {"title", "updated_at"}} == {
        k: v for k, v in event.items() if k not in {"title", "updated_at"}
    }
    assert updated["updated_at"] >= event["updated_at"]


def test_patch_total_seats_moves_available_by_the_delta(client, admin):
    event = create_event(client, admin, total_seats=50)
    _book_directly(event["id"], seats=20)
    response = client.patch(
        f"/events/{event['id']}", json={"total_seats": 60}, headers=auth_header(admin)
    )
    assert (response.json()["total_seats"], response.json()["available_seats"]) == (
        60,
        40,
    )
    response = client.patch(
        f"/events/{event['id']}", json={"total_seats": 20}, headers=auth_header(admin)
    )
    assert (response.json()["total_seats"], response.json()["available_seats"]) == (
        20,
        0,
    )


def test_patch_below_the_booked_seats_is_a_conflict_and_changes_nothing(client, admin):
    event = create_event(client, admin, total_seats=50)
    _book_directly(event["id"], seats=20)
    response = client.patch(
        f"/events/{event['id']}",
        json={"total_seats": 19, "title": "X"},
        headers=auth_header(admin),
    )
    assert_error(response, 409, "seats_below_booked")
    assert "20" in response.json()["detail"]
    after = client.get(f"/events/{event['id']}").json()
    assert (after["title"], after["total_seats"], after["available_seats"]) == (
        "Concert",
        50,
        30,
    )


def test_patch_description_null_clears_it(client, admin):
    event = create_event(client, admin)
    response = client.patch(
        f"/events/{event['id']}", json={"description": None}, headers=auth_header(admin)
    )
    assert response.json()["description"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"total_seats": 0},
        {"total_seats": None},
        {"event_date": "2001-01-01T00:00:00Z"},
        {"location": ""},
        {"title": "x" * 201},
        [],
        "x",
    ],
)
def test_bad_patch_input_is_a_422(client, admin, body):
    event = create_event(client, admin)
    response = client.patch(
        f"/events/{event['id']}", json=body, headers=auth_header(admin)
    )
    assert_error(response, 422, "validation_error")


def test_patch_by_a_user_is_forbidden(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    assert_error(
        client.patch(
            f"/events/{event['id']}", json={"title": "x"}, headers=auth_header(token)
        ),
        403,
        "forbidden",
    )


def test_patch_of_an_unknown_event_is_404(client, admin):
    assert_error(
        client.patch("/events/999999", json={"title": "x"}, headers=auth_header(admin)),
        404,
        "not_found",
    )


# --- delete (cancel) ----------------------------------------------------------------------


def test_delete_cancels_hides_and_keeps_bookings(client, admin):
    event = create_event(client, admin, total_seats=50)
    _book_directly(event["id"], seats=3)
    _book_directly(event["id"], seats=2)
    response = client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    assert response.status_code == 204
    assert response.content == b""
    assert_error(client.get(f"/events/{event['id']}"), 404, "not_found")
    assert event["id"] not in [e["id"] for e in client.get("/events").json()]
    with open_session() as session:
        statuses = session.scalars(
            select(Booking.status).where(Booking.event_id == event["id"])
        ).all()
    assert statuses == ["cancelled", "cancelled"]


def test_delete_twice_is_404(client, admin):
    event = create_event(client, admin)
    client.delete(f"/events/{event['id']}", headers=auth_header(admin))
    assert_error(
        client.delete(f"/events/{event['id']}", headers=auth_header(admin)),
        404,
        "not_found",
    )
    assert_error(
        client.patch(
            f"/events/{event['id']}", json={"title": "x"}, headers=auth_header(admin)
        ),
        404,
        "not_found",
    )


def test_delete_by_a_user_is_forbidden_and_changes_nothing(client, admin):
    event = create_event(client, admin)
    _, token = user_token(client)
    assert_error(
        client.delete(f"/events/{event['id']}", headers=auth_header(token)),
        403,
        "forbidden",
    )
    assert client.get(f"/events/{event['id']}").status_code == 200


def test_an_event_with_bookings_cannot_be_deleted_from_the_database():
    # Defence in depth: the foreign key refuses to lose bookings even to a manual DELETE.
    from sqlalchemy.exc import DBAPIError

    from ticketmania.db.failures import sqlstate_of

    event_id = _insert_event_directly()
    _book_directly(event_id, seats=1)
    with pytest.raises(DBAPIError) as caught, get_engine().begin() as connection:
        connection.execute(text("DELETE FROM events WHERE id = :id"), {"id": event_id})
    assert sqlstate_of(caught.value) == "23503"  # foreign_key_violation


# --- helpers ------------------------------------------------------------------------------


def _insert_event_directly(total=50):
    with get_engine().begin() as connection:
        return insert_event_directly(
            connection, event_date_sql="now() + interval '1 day'", total=total
        )


def _book_directly(event_id, *, seats):
    """A confirmed booking as the bookings domain writes it: seats taken in the same transaction."""
    with get_engine().begin() as connection:
        user_id = connection.scalar(
            text(
                "INSERT INTO users (name, email, password_hash) VALUES ('B', 'b' || gen_random_uuid() || '@x.com', 'x') "
                "RETURNING id"
            )
        )
        for _ in range(seats):  # one seat at a time, from the fullest shard
            connection.execute(
                text(
                    "UPDATE seat_shards SET available = available - 1 WHERE event_id = :id "
                    "AND shard = (SELECT shard FROM seat_shards WHERE event_id = :id "
                    "  ORDER BY available DESC, shard LIMIT 1)"
                ),
                {"id": event_id},
            )
        connection.execute(
            text(
                "INSERT INTO bookings (user_id, event_id, seats_booked) VALUES (:u, :e, :n)"
            ),
            {"u": user_id, "e": event_id, "n": seats},
        )
    with open_session() as session:
        return session.scalar(select(func.count()).select_from(Booking))


def assert_422(response):
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert isinstance(response.json()["detail"], list)


def test_event_date_without_a_utc_equivalent_is_a_422(client, admin):
    body = event_body(event_date="9999-12-31T23:59:59-00:01")
    assert_422(client.post("/events", json=body, headers=auth_header(admin)))


def test_nul_in_event_bodies_is_a_422_and_writes_nothing(client, admin):
    assert_422(
        client.post(
            "/events", json=event_body(title="a\x00b"), headers=auth_header(admin)
        )
    )
    assert client.get("/events").json() == []
