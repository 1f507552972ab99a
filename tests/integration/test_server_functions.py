"""The one-statement transactions run as the server's functions of their
current text (db/server_functions.py), and as themselves when the function is
not there: a deploy under way, or a database migrated by other code."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.factories import auth_header, book, create_event, user_token
from ticketmania.db import driver
from ticketmania.db.engine import get_engine
from ticketmania.db.server_functions import kept_statements, server_form


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements every connection sends, as the server receives them."""
    statements: list[str] = []
    original = driver.Connection.execute_unnamed

    def recording(self, statement, *args, **kwargs):
        statements.append(statement)
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(driver.Connection, "execute_unnamed", recording)
    return statements


def functions_on_the_server() -> set[str]:
    with get_engine().connect() as connection:
        return set(
            connection.scalars(
                text(
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'ticketmania\\_fn\\_%'"
                )
            )
        )


def test_every_kept_statement_has_its_function_after_migrating():
    expected = {server_form(statement).function for statement in kept_statements()}
    assert len(expected) == len(kept_statements())
    assert functions_on_the_server() == expected


def test_a_booking_and_its_cancellation_are_calls_of_their_functions(
    client, admin, sent
):
    event = create_event(client, admin)
    _, token = user_token(client)
    sent.clear()
    booked = book(client, token, event["id"])
    assert booked.status_code == 201
    cancelled = client.post(
        f"/bookings/{booked.json()['id']}/cancel", headers=auth_header(token)
    )
    assert cancelled.status_code == 200
    calls = [s for s in sent if s.startswith("SELECT * FROM ticketmania_fn_")]
    assert len(calls) == 2, sent
    assert not any("seat_shards" in statement for statement in sent)


def test_without_its_function_a_statement_runs_as_itself(client, admin, sent):
    """The function dropped (code newer than the database's functions): the
    booking is still booked, exactly once, by the statement's own text."""
    from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD
    from ticketmania.db.migrate import upgrade_to_head

    event = create_event(client, admin)
    _, token = user_token(client)
    form = server_form(BOOK_FROM_ONE_SHARD)
    with get_engine().begin() as connection:
        connection.execute(text(f"DROP FUNCTION {form.function}"))
    try:
        sent.clear()
        booked = book(client, token, event["id"], 2)
        assert booked.status_code == 201, booked.text
        assert form.call in sent and form.sql in sent
        seats = client.get(f"/events/{event['id']}").json()["available_seats"]
        assert seats == 48
    finally:
        upgrade_to_head(get_engine())
    assert form.function in functions_on_the_server()


def test_migrating_drops_the_functions_of_texts_no_longer_current():
    from ticketmania.db.migrate import upgrade_to_head

    with get_engine().begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION ticketmania_fn_0000000000000000(p1 int) "
                "RETURNS TABLE (c1 int) LANGUAGE sql AS 'SELECT p1'"
            )
        )
    upgrade_to_head(get_engine())
    assert "ticketmania_fn_0000000000000000" not in functions_on_the_server()


def test_migrating_an_up_to_date_database_writes_nothing():
    """No function and no role default is written again: a no-op migration
    holds the migration lock for reads only (four servers starting at once
    took turns past the lock timeout while each rewrote them)."""
    from ticketmania.db.migrate import upgrade_to_head

    versions = text(
        "SELECT (SELECT array_agg(xmin::text ORDER BY proname) FROM pg_proc "
        "        WHERE proname LIKE 'ticketmania\\_fn\\_%'), "
        "       (SELECT array_agg(s.xmin::text) FROM pg_db_role_setting AS s "
        "        JOIN pg_database AS d ON d.oid = s.setdatabase "
        "        WHERE d.datname = current_database())"
    )
    upgrade_to_head(get_engine())
    with get_engine().connect() as connection:
        before = connection.execute(versions).one()
    upgrade_to_head(get_engine())
    with get_engine().connect() as connection:
        after = connection.execute(versions).one()
    assert after == before
