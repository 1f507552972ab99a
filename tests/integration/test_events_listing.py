"""GET /events: pagination, filters, sorting, headers."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import (
    auth_header,
    create_event,
    future,
    insert_event_directly,
)
from ticketmania.db.engine import get_engine


def ids(response):
    assert response.status_code == 200, response.text
    return [event["id"] for event in response.json()]


def links(response):
    return dict(
        (rel, url)
        for url, rel in re.findall(
            r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", "")
        )
    )


def test_empty_listing_is_an_empty_array(client):
    response = client.get("/events")
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert "Link" not in response.headers


def test_default_order_is_event_date_then_id(client, admin):
    late = create_event(client, admin, event_date=future(20))
    early = create_event(client, admin, event_date=future(10))
    same_a = create_event(client, admin, event_date=future(15))
    same_b = create_event(client, admin, event_date=same_a["event_date"])
    assert ids(client.get("/events")) == [
        early["id"],
        same_a["id"],
        same_b["id"],
        late["id"],
    ]


def test_pagination_headers_and_links(client, admin):
    created = [
        create_event(client, admin, event_date=future(day + 1))["id"]
        for day in range(5)
    ]
    first = client.get("/events?limit=2")
    assert ids(first) == created[:2]
    assert first.headers["X-Total-Count"] == "5"
    assert set(links(first)) == {"next"}
    second = client.get(links(first)["next"])
    assert ids(second) == created[2:4]
    assert set(links(second)) == {"next", "prev"}
    last = client.get(links(second)["next"])
    assert ids(last) == created[4:]
    assert set(links(last)) == {"prev"}
    assert ids(client.get(links(last)["prev"])) == created[2:4]


def test_offset_past_the_end_is_empty_with_the_total(client, admin):
    create_event(client, admin)
    response = client.get("/events?offset=50")
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "1"
    assert "prev" in links(response)


def test_links_keep_the_filters(client, admin):
    for _ in range(3):
        create_event(client, admin, location="Paris")
    response = client.get("/events?limit=1&location=paris&sort=title")
    assert (
        "location=paris" in links(response)["next"]
        and "sort=title" in links(response)["next"]
    )


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "offset=-1",
        "offset=x",
        "sort=price",
        "sort=id;drop",
        "date_from=tomorrow",
        "available_only=maybe",
        "date_from=2030-01-02&date_to=2030-01-01",
        "q=" + "x" * 201,
    ],
)
def test_bad_query_parameters_are_a_422(client, query):
    response = client.get(f"/events?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


def test_q_matches_title_or_description_case_insensitively(client, admin):
    in_title = create_event(client, admin, title="Jazz Night", description="music")
    in_description = create_event(
        client, admin, title="Evening", description="Smooth JAZZ all night"
    )
    create_event(client, admin, title="Rock", description="loud")
    assert sorted(ids(client.get("/events?q=jazz"))) == sorted(
        [in_title["id"], in_description["id"]]
    )


def test_q_wildcards_are_literal(client, admin):
    percent = create_event(client, admin, title="100% Fun")
    create_event(client, admin, title="1000 Fun")
    assert ids(client.get("/events", params={"q": "100%"})) == [percent["id"]]
    assert ids(client.get("/events", params={"q": "_"})) == []


def test_location_filter(client, admin):
    berlin = create_event(client, admin, location="Berlin, Tempodrom")
    create_event(client, admin, location="Paris")
    assert ids(client.get("/events?location=BERLIN")) == [berlin["id"]]


def test_date_range(client, admin):
    inside = create_event(client, admin, event_date=future(10))
    create_event(client, admin, event_date=future(40))
    date_to = (datetime.now(UTC) + timedelta(days=20)).replace(tzinfo=None).isoformat()
    assert ids(client.get("/events", params={"date_to": date_to})) == [inside["id"]]
    date_from = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    assert len(ids(client.get("/events", params={"date_from": date_from}))) == 1


def test_past_events_are_listed_only_when_asked_for(client, admin):
    upcoming = create_event(client, admin)
    with get_engine().begin() as connection:
        past_id = insert_event_directly(
            connection, event_date_sql="now() - interval '2 days'", total=5, title="Old"
        )
    assert ids(client.get("/events")) == [upcoming["id"]]
    since = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    assert ids(client.get("/events", params={"date_from": since})) == [
        past_id,
        upcoming["id"],
    ]


def test_available_only(client, admin):
    full = create_event(client, admin, total_seats=2)
    with get_engine().begin() as connection:
        connection.execute(
            text("UPDATE seat_shards SET available = 0 WHERE event_id = :id"),
            {"id": full["id"]},
        )
    free = create_event(client, admin)
    assert ids(client.get("/events?available_only=true")) == [free["id"]]


@pytest.mark.parametrize("sort", ["event_date", "-event_date", "title", "-created_at"])
def test_every_sort(client, admin, sort):
    a = create_event(client, admin, title="Bravo", event_date=future(5))
    b = create_event(client, admin, title="Alpha", event_date=future(9))
    c = create_event(client, admin, title="Charlie", event_date=future(7))
    expected = {
        "event_date": [a, c, b],
        "-event_date": [b, c, a],
        "title": [b, a, c],
        "-created_at": [c, b, a],
    }[sort]
    assert ids(client.get(f"/events?sort={sort}")) == [e["id"] for e in expected]


def test_cancelled_events_are_not_listed(client, admin):
    kept = create_event(client, admin)
    gone = create_event(client, admin)
    client.delete(f"/events/{gone['id']}", headers=auth_header(admin))
    assert ids(client.get("/events")) == [kept["id"]]
    assert client.get("/events").headers["X-Total-Count"] == "1"


def test_unknown_query_parameters_are_ignored(client, admin):
    create_event(client, admin)
    assert len(ids(client.get("/events?colour=blue"))) == 1


def test_listing_items_have_exactly_the_event_fields_in_order(client, admin):
    event = create_event(client, admin)
    for _ in range(2):  # a miss, then a hit from the cache
        response = client.get("/events")
        assert list(response.json()[0]) == list(event)
        assert response.json()[0] == client.get(f"/events/{event['id']}").json()


def assert_422(response):
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert isinstance(response.json()["detail"], list)


@pytest.mark.parametrize("param", ["q", "location"])
def test_nul_in_listing_filters_is_a_422(client, param):
    assert_422(client.get("/events", params={param: "a\x00b"}))


@pytest.mark.parametrize(
    "query",
    ["date_to=9999-12-31T23:59:59-01:00", "date_from=0001-01-01T00:00:00%2B14:00"],
)
def test_dates_without_a_utc_equivalent_are_a_422(client, query):
    assert_422(client.get(f"/events?{query}"))
