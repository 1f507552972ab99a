"""One statement that is its own transaction: one round trip, nothing prepared.

The booking is one statement (db/bookings.py). Sent the usual way, through a
session, it would also cost a BEGIN and a COMMIT round trip. Here it runs on a
pooled connection of its own in autocommit: Parse, Bind, Execute and Sync in
one write (db/driver.py), so the statement commits itself, and it names
nothing on the server, so a transaction pooler may run it on any server
connection. Its placeholders are rewritten for the server once per process.

A named prepared statement would save the server parsing and planning it on
each call, but behind a transaction pooler it exists on one server connection
only (another client's statement of the same name may sit on the next one),
and RDS Proxy pins a client that prepares one. The statements a buyer waits
on are kept on the server as functions instead (db/server_functions.py),
whose plans the server caches: what is sent is the function's call.
"""

from __future__ import annotations

from typing import Any

import pg8000
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ticketmania.db.failures import is_server_gone, sqlstate_of_driver_error
from ticketmania.db.server_functions import is_kept, server_form

UNDEFINED_FUNCTION = "42883"


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
        form = server_form(statement)
        values = form.make_values(params)
        # No BEGIN is sent: on an idle connection the statement is its own transaction.
        if is_kept(statement):
            try:
                return list(driver.execute_unnamed(form.call, vals=values).rows or ())
            except pg8000.Error as exc:
                # No function of this text on the server (a deploy under way, or
                # a database not migrated since): nothing ran; run the text itself.
                if sqlstate_of_driver_error(exc) != UNDEFINED_FUNCTION:
                    raise
        return list(driver.execute_unnamed(form.sql, vals=values).rows or ())
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
