"""The one-statement transactions a buyer waits on, kept on the server as
functions, so their plans are cached by whichever server connection runs them.

Behind a transaction pooler a statement cannot be prepared once per
connection under a name (db/statements.py), and sent unnamed the booking is
parsed and planned on every call: measured at the database, that cost about
two thirds of its throughput (BENCHMARKS.md, section 8). A PL/pgSQL function
whose body is the statement keeps its plan in the server connection that ran
it, like a prepared statement, but the plan belongs to the server, not to a
client's session: any client may call it through any pooler, and RDS Proxy
does not pin on a function call. What a request sends is then
`SELECT * FROM ticketmania_fn_<hash>($1, ...)`: unnamed, small, one round trip.

The statements stay in the data-access modules, where they are read and
changed; each migration (`write_server_functions`, on every `ticketmania
migrate` and deploy) makes a function of each statement's current text, named
by a hash of it, with the parameter and column types the server infers for
it, and drops the functions of texts no longer current. A statement whose
function is not there (code newer than the database's functions, or older,
during a deploy) runs as it is, unnamed: correct, only slower.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pg8000.native
from sqlalchemy import Connection, text

PREFIX = "ticketmania_fn_"


def kept_statements() -> tuple[str, ...]:
    """Every statement kept on the server: the one-statement transactions of the
    booking and order paths, the holds and the door."""
    from ticketmania.db import bookings, checkins, holds, orders

    return (
        bookings.BOOK_FROM_ONE_SHARD,
        bookings.BOOK_FROM_SHARDS_IN_ORDER,
        bookings.ADMITTED_BOOK_FROM_ONE_SHARD,
        bookings.ADMITTED_BOOK_FROM_SHARDS_IN_ORDER,
        orders.ORDER_FROM_ONE_SHARD_EACH,
        orders.ORDER_FROM_SHARDS_IN_ORDER,
        orders.ADMITTED_ORDER_FROM_ONE_SHARD_EACH,
        orders.ADMITTED_ORDER_FROM_SHARDS_IN_ORDER,
        bookings.CANCEL_BOOKING,
        holds.CONFIRM_HOLD,
        checkins.CHECK_IN,
    )


@dataclass(frozen=True)
class ServerForm:
    """A statement as the server takes it: `$n` placeholders, the function
    that puts the parameters in their order, and the call of its function."""

    sql: str
    make_values: Callable[[dict[str, Any]], tuple[Any, ...]]
    parameter_count: int
    function: str

    @property
    def call(self) -> str:
        arguments = ", ".join(f"${n}" for n in range(1, self.parameter_count + 1))
        return f"SELECT * FROM {self.function}({arguments})"


@functools.cache
def server_form(statement: str) -> ServerForm:
    # pg8000's own rewrite of `:name` placeholders, done once per statement.
    sql, make_values = pg8000.native.to_statement(statement)
    numbers = {int(n) for n in re.findall(r"\$(\d+)", sql)}
    digest = hashlib.sha256(statement.encode()).hexdigest()[:16]
    return ServerForm(
        sql=sql,
        make_values=make_values,
        parameter_count=max(numbers, default=0),
        function=PREFIX + digest,
    )


@functools.cache
def is_kept(statement: str) -> bool:
    return statement in kept_statements()


def _type_name(connection: Connection, oid: int, modifier: int | None) -> str:
    return str(
        connection.execute(
            text("SELECT format_type(CAST(:oid AS oid), CAST(:modifier AS int))"),
            {"oid": oid, "modifier": modifier},
        ).scalar_one()
    )


def _definition(connection: Connection, form: ServerForm) -> str:
    driver = connection.connection.dbapi_connection
    parameter_oids, columns = driver.describe(form.sql)  # type: ignore[union-attr]
    parameters = ", ".join(
        f"p{n} {_type_name(connection, oid, None)}"
        for n, oid in enumerate(parameter_oids, start=1)
    )
    # Columns named c1, c2, ...: no name of a table's column, so none is ambiguous.
    results = ", ".join(
        f"c{n} {_type_name(connection, oid, modifier if modifier >= 0 else None)}"
        for n, (oid, modifier) in enumerate(columns, start=1)
    )
    body = re.sub(r"\$(\d+)\b", r"p\1", form.sql)
    return (
        f"CREATE OR REPLACE FUNCTION {form.function}({parameters}) "
        f"RETURNS TABLE ({results}) LANGUAGE plpgsql VOLATILE AS $ticketmania$\n"
        f"BEGIN\nRETURN QUERY {body};\nEND\n$ticketmania$"
    )


def write_server_functions(connection: Connection) -> list[str]:
    """Make a function of every kept statement's current text, where the server
    has none or one defined otherwise (the types it infers follow the schema);
    drop those of texts no longer current. Returns the functions' names."""
    current = []
    for statement in kept_statements():
        form = server_form(statement)
        definition = _definition(connection, form)
        digest = hashlib.sha256(definition.encode()).hexdigest()
        written = connection.execute(
            text(
                "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc AS p "
                "JOIN pg_namespace AS n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND p.proname = :name"
            ),
            {"name": form.function},
        ).scalar()
        if written != digest:
            connection.exec_driver_sql(definition)
            connection.exec_driver_sql(
                f"COMMENT ON FUNCTION {form.function} IS '{digest}'"
            )
        current.append(form.function)
    stale = connection.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc AS p "
            "JOIN pg_namespace AS n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE :prefix "
            "AND NOT p.proname = ANY(:current)"
        ),
        {"prefix": PREFIX.replace("_", r"\_") + "%", "current": current},
    ).scalars()
    for signature in list(stale):
        # Code still running the old text finds no function and runs it as it is.
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {signature}")
    return current
