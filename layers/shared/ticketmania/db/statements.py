"""One statement that is its own transaction, prepared once per connection.

The booking is one statement (db/bookings.py). Sent the usual way, through a
session and SQLAlchemy's cursor, it would also cost a BEGIN and a COMMIT round
trip, a character-by-character rewrite of its placeholders by pg8000, and a
parse and plan of a long statement by the server, on every call
(BENCHMARKS.md). Here it runs on a pooled connection of its own, prepared once
per connection (a server-side named statement, pg8000's `Connection.prepare`)
and with autocommit on: one round trip, and the statement commits itself.
"""

from __future__ import annotations

from typing import Any

import pg8000
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ticketmania.db.failures import is_server_gone

# Where a connection keeps its prepared statements: the pool's per-connection
# `info`, which lives exactly as long as the database connection does.
_PREPARED = "ticketmania.prepared"


def run_alone(session: Session, statement: str, params: dict[str, Any]) -> list[Any]:
    """Run `statement` (`:name` placeholders) as its own transaction, on a pooled
    connection of the session's engine; its rows.

    The session must hold no connection: a Lambda container's pool has exactly
    one, and a transaction of the session's own would not see this one's.

    Errors come out as SQLAlchemy's DBAPIError subclasses, with the connection
    invalidated when it broke, as any other statement's would. Never retried:
    a connection that fails mid-statement may have committed it.
    """
    if session.in_transaction():
        raise RuntimeError("run_alone() runs before the session holds a connection")
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # sessions are bound to the engine
    try:
        pooled = engine.raw_connection()
    except (pg8000.Error, OSError) as exc:
        # The pool hands a driver's connect error on as is; make it what every
        # other database error is (a 503 when the server cannot be reached).
        raise DBAPIError.instance(
            None, None, exc, pg8000.Error, connection_invalidated=True
        ) from exc
    driver = pooled.dbapi_connection
    try:
        # A transaction left open on the connection (nothing of ours leaves one)
        # would swallow the statement's commit: refuse rather than lose a booking.
        if driver is None or driver._in_transaction:
            raise RuntimeError("run_alone needs an idle connection")
        prepared: dict[str, Any] = pooled.info.setdefault(_PREPARED, {})
        driver.autocommit = True
        try:
            if statement not in prepared:
                prepared[statement] = driver.prepare(statement)
            return list(prepared[statement].run(**params))
        finally:
            driver.autocommit = False
    except pg8000.Error as exc:
        is_disconnect = is_server_gone(exc) or engine.dialect.is_disconnect(
            exc, driver, None
        )
        if is_disconnect:
            pooled.invalidate(exc)
        raise DBAPIError.instance(
            statement,
            params,
            exc,
            pg8000.Error,
            hide_parameters=True,
            connection_invalidated=is_disconnect,
            dialect=engine.dialect,
        ) from exc
    finally:
        pooled.close()
