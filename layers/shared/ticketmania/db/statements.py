"""One statement that is its own transaction, prepared once per connection.

The booking is one statement (db/bookings.py). Sent the usual way, through
SQLAlchemy's cursor, it would also cost a BEGIN and a COMMIT round trip, a
character-by-character rewrite of its placeholders by pg8000, and a parse and
plan of a long statement by the server, on every call (BENCHMARKS.md). Here it
is prepared once per connection (a server-side named statement, pg8000's
`Connection.prepare`) and run with autocommit on: one round trip, and the
statement commits itself.
"""

from __future__ import annotations

from typing import Any

import pg8000
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# Where a connection keeps its prepared statements: SQLAlchemy's per-connection
# `info`, which lives exactly as long as the database connection does.
_PREPARED = "ticketmania.prepared"


def run_alone(session: Session, statement: str, params: dict[str, Any]) -> list[Any]:
    """Run `statement` (`:name` placeholders) as its own transaction; its rows.

    The session must not have begun a transaction, and is left without one: its
    connection is borrowed for this one statement. Errors come out as
    SQLAlchemy's DBAPIError subclasses, the connection invalidated when it
    broke, as any other statement's would.
    """
    if session.in_transaction():
        raise RuntimeError("run_alone needs a session that has not begun a transaction")
    connection = session.connection()
    fairy = connection.connection
    driver = fairy.dbapi_connection
    assert driver is not None  # a checked-out connection always has one
    # A transaction open on the driver (nothing of ours opens one) would swallow
    # the statement's commit: refuse rather than lose a booking.
    if driver._in_transaction:
        raise RuntimeError("run_alone found a transaction open on its connection")
    prepared: dict[str, Any] = fairy.info.setdefault(_PREPARED, {})
    driver.autocommit = True
    try:
        if statement not in prepared:
            prepared[statement] = driver.prepare(statement)
        return list(prepared[statement].run(**params))
    except pg8000.Error as exc:
        is_disconnect = connection.dialect.is_disconnect(exc, driver, None)
        if is_disconnect:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement,
            params,
            exc,
            pg8000.Error,
            hide_parameters=True,
            connection_invalidated=is_disconnect,
            dialect=connection.dialect,
        ) from exc
    finally:
        if not connection.invalidated:
            driver.autocommit = False
        # Ends the session's (empty) transaction and returns the connection: the
        # statement committed itself, so there is nothing to roll back, and the
        # driver sends nothing.
        session.rollback()
