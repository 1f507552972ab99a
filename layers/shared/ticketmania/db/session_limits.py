"""The limits every database session runs under, set where no pooler loses them.

A connection may reach Postgres through a transaction pooler (PgBouncer in
transaction mode, RDS Proxy), which hands each transaction whatever server
connection is free. So nothing is set per session: no startup parameters (the
pooler refuses them, or pins), no `SET`. The limits are instead the defaults of
the role the functions connect as, in this database only, which every server
connection that role opens starts with, whatever opened it:

- `statement_timeout` and `lock_timeout`: a stuck query or lock becomes a 503,
  never a hung request (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS);
- `idle_in_transaction_session_timeout`: a client that vanished mid-transaction
  cannot hold its locks for long;
- `TimeZone` UTC: what every timestamp is read and written in.

The migration writes them (`write_role_defaults`, on every run, so a changed
setting lands with the next deploy). What runs longer than a request may (the
scheduled jobs, the migration) raises its own limits for its own transactions
(`raise_for_long_statements`: `set_config(..., true)`, which ends with the
transaction); those are a handful of connections, never the buyers'.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ticketmania.settings import Settings

IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
TIME_ZONE = "UTC"
# A migration waits this long for a lock (another deploy's migration, a long
# query on a table it alters) before failing the deploy.
MIGRATION_LOCK_TIMEOUT_MS = 60_000


def role_defaults(settings: Settings) -> dict[str, str]:
    """The parameters and values the functions' role starts every session with."""
    return {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "lock_timeout": str(settings.db_lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
        "TimeZone": TIME_ZONE,
    }


def write_role_defaults(connection: Connection, settings: Settings) -> None:
    """Make `role_defaults` the defaults of the connected role in this database
    (ALTER ROLE ... IN DATABASE: other databases and roles are untouched).
    Sessions opened from then on start with them; open ones keep what they had."""
    written = dict(
        item.split("=", 1)
        for item in connection.execute(
            text(
                "SELECT unnest(setconfig) FROM pg_db_role_setting AS s "
                "JOIN pg_database AS d ON d.oid = s.setdatabase "
                "WHERE d.datname = current_database() "
                "AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
            )
        ).scalars()
    )
    for name, value in role_defaults(settings).items():
        if written.get(name) == value:
            continue  # as it is: no write, no lock
        # ALTER ROLE takes no parameters: the name is one of ours, the value a
        # validated number or a constant, quoted by the server's own format().
        statement = connection.execute(
            text(
                "SELECT format('ALTER ROLE CURRENT_USER IN DATABASE %I SET "
                + name
                + " = %L', current_database(), CAST(:value AS text))"
            ),
            {"value": value},
        ).scalar_one()
        connection.exec_driver_sql(statement)


def raise_for_long_statements(
    connection: Connection,
    *,
    statement_timeout_ms: int,
    lock_timeout_ms: int | None = None,
) -> None:
    """Let this transaction's statements run for `statement_timeout_ms` (and
    wait `lock_timeout_ms` for a lock): for this transaction only."""
    connection.execute(
        text("SELECT set_config('statement_timeout', CAST(:ms AS text), true)"),
        {"ms": statement_timeout_ms},
    )
    if lock_timeout_ms is not None:
        connection.execute(
            text("SELECT set_config('lock_timeout', CAST(:ms AS text), true)"),
            {"ms": lock_timeout_ms},
        )
