"""Input at the edges, each found by an outside audit: searches that Postgres tells
apart sharing one cached page, chunked bodies past the size limit, addresses
typed in decomposed Unicode, and ids that are not written in plain digits."""

import asyncio
import unicodedata

import pytest

from tests.factories import (
    DEFAULT_PASSWORD,
    auth_header,
    book,
    create_event,
    event_body,
    signup,
    user_token,
)
from ticketmania.cache import get_cache
from ticketmania.web.body_limit import MAX_BODY_BYTES, BodySizeLimit


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ΑΣ", "ας"),  # Python lower-cases "ΑΣ" to "ας" (a final sigma); ILIKE does not
        ("İ", "i̇"),  # Python lower-cases "İ" to "i̇"
        ("Jazz", "jazz"),  # the same search: may share
    ],
)
def test_searches_share_a_cached_page_only_when_postgres_answers_them_alike(
    client, admin, first, second
):
    for title in ("ΑΣ night", "İzmir jazz", "i̇ dotted", "Jazz club"):
        create_event(client, admin, title=title)
    client.get("/events", params={"q": first})  # cached now
    maybe_cached = client.get("/events", params={"q": second}).json()
    get_cache().client.flushdb()
    from_postgres = client.get("/events", params={"q": second}).json()
    assert [e["title"] for e in maybe_cached] == [e["title"] for e in from_postgres]


def chunks(total, size=8192):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_a_chunked_body_past_the_limit_is_refused_like_a_sized_one(client, admin):
    two_mib = 2 * 1024 * 1024
    response = client.post(
        "/events",
        content=chunks(two_mib),
        headers={**auth_header(admin), "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (
        413,
        "payload_too_large",
    )
    login = client.post(
        "/auth/login",
        content=chunks(8 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert (login.status_code, login.json()["code"]) == (413, "payload_too_large")


def test_a_chunked_body_within_the_limit_is_read_whole(client, admin):
    import json

    body = json.dumps(event_body(title="Chunked")).encode()
    response = client.post(
        "/events",
        content=(body[i : i + 7] for i in range(0, len(body), 7)),
        headers={**auth_header(admin), "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Chunked"


def test_the_limit_stops_reading_a_chunked_body_at_the_limit():
    """8 MiB offered in 1 KiB chunks: the middleware reads one chunk past 64 KiB,
    answers 413 and never asks for the rest; the app is never called."""
    read = 0
    sent = []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the app must not see an oversized body")

    scope = {"type": "http", "headers": [(b"content-type", b"application/json")]}
    # A loop of its own: asyncio.run would replace (and orphan) this thread's loop.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(BodySizeLimit(app)(scope, receive, send))
    finally:
        loop.close()
    assert sent[0]["status"] == 413
    assert read == MAX_BODY_BYTES // 1024 + 1


def test_an_address_typed_in_decomposed_unicode_logs_in(client):
    composed = "josé.núñez@example.com"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    user = signup(client, email=decomposed)
    assert user["email"] == composed  # stored composed (NFC)
    for typed in (decomposed, composed, decomposed.upper()):
        response = client.post(
            "/auth/login", json={"email": typed, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, (typed, response.text)


@pytest.mark.parametrize("written", ["{id}.0", "+{id}", "%20{id}", "0{id}", "{id}%20"])
def test_an_id_not_written_in_plain_digits_is_refused(client, admin, written):
    event = create_event(client, admin)
    _, token = user_token(client)
    booking = book(client, token, event["id"], 1).json()
    assert client.get(f"/events/{event['id']}").status_code == 200
    for path, id_ in (("/events/", event["id"]), ("/bookings/", booking["id"])):
        response = client.get(path + written.format(id=id_), headers=auth_header(token))
        assert (response.status_code, response.json()["code"]) == (
            422,
            "validation_error",
        ), (path, written, response.text)
