"""What a database error means for the caller: the SQLSTATE pg8000 reports, read
into the domain error it amounts to (or None: a bug, not the caller's doing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from ticketmania.errors import AppError, Conflict, InvalidValue, Unavailable

# The server ended the session (terminated, shut down, restarting): whatever was
# sent after that point never ran, and the connection is dead.
SERVER_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})

# SQLSTATEs that mean "the database cannot serve this now", not "your request is
# wrong": lock_not_available, query_canceled (statement_timeout),
# too_many_connections, serialization_failure and deadlock_detected (the
# transaction was rolled back whole: the same request may simply be sent again),
# and the server gone; the whole class 08 (connection exception) is added below.
UNAVAILABLE_SQLSTATES = (
    frozenset({"55P03", "57014", "53300", "40001", "40P01"}) | SERVER_GONE_SQLSTATES
)


def sqlstate_of(exc: DBAPIError) -> str | None:
    """The SQLSTATE pg8000 put in its error, if any."""
    value = _server_fields(exc.orig).get("C")
    return str(value) if value else None


def sqlstate_of_driver_error(driver_error: BaseException) -> str | None:
    """The SQLSTATE of an error pg8000 raised, before SQLAlchemy wraps it."""
    value = _server_fields(driver_error).get("C")
    return str(value) if value else None


def is_server_gone(driver_error: BaseException | None) -> bool:
    """pg8000's error says the server ended the session (the connection is dead)."""
    return _server_fields(driver_error).get("C") in SERVER_GONE_SQLSTATES


def constraint_of(exc: DBAPIError) -> str | None:
    """The name of the constraint a violation broke, if the server named one."""
    value = _server_fields(exc.orig).get("n")
    return str(value) if value else None


def classify_database_error(exc: DBAPIError) -> AppError | None:
    """Map a database error to the API error it means, or None for a real bug."""
    state = sqlstate_of(exc)
    if (
        exc.connection_invalidated
        or state is None
        or state in UNAVAILABLE_SQLSTATES
        or state.startswith("08")
    ):
        return Unavailable("The database is unavailable, try again shortly")
    if state.startswith("22"):  # data_exception: bad encoding, NUL, out of range
        return InvalidValue()
    if isinstance(exc, IntegrityError) or state.startswith("23"):
        # A CHECK or unique constraint caught what the logic should have: still a conflict.
        return Conflict("The request conflicts with the current state")
    return None


def loggable_fields(exc: DBAPIError) -> dict[str, Any]:
    """What may be logged of a database error: never its message or parameters,
    which quote values (emails, hashes)."""
    fields = _server_fields(exc.orig)
    return {
        "sqlstate": fields.get("C"),
        "table": fields.get("t"),
        "constraint": fields.get("n"),
        "statement": exc.statement,
        "error_type": type(exc.orig).__name__,
    }


def _server_fields(driver_error: BaseException | None) -> dict[str, Any]:
    # pg8000 raises with the server's ErrorResponse fields as a dict in args[0].
    args = getattr(driver_error, "args", ())
    return args[0] if args and isinstance(args[0], dict) else {}
