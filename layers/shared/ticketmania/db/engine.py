"""The SQLAlchemy engine, built lazily once per container, always on pg8000."""

from __future__ import annotations

import functools
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pg8000
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from ticketmania.db import driver
from ticketmania.db.failures import is_server_gone
from ticketmania.db.session_limits import raise_for_long_statements
from ticketmania.settings import Settings, get_settings

# libpq options that pg8000 does not take as keywords; handled below instead.
_LIBPQ_ONLY = {
    "sslmode",
    "sslrootcert",
    "channel_binding",
    "connect_timeout",
    "host",
    "options",
}


def _ssl_context(sslmode: str | None, rootcert: str | None) -> ssl.SSLContext | None:
    if sslmode in (None, "disable", "allow", "prefer"):
        return None
    context = ssl.create_default_context(cafile=rootcert)
    if sslmode == "require" and not rootcert:
        # libpq's "require" encrypts without verifying the server (Neon, RDS hand this out).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif sslmode == "verify-ca":
        context.check_hostname = False
    return context


def pg8000_url(raw_url: str) -> tuple[URL, dict[str, Any]]:
    """Turn any Postgres URL a provider hands out into a pg8000 URL plus connect args.

    `postgres://`, `postgresql://` and `postgresql+psycopg2://` all become
    `postgresql+pg8000://`; `sslmode` becomes an SSL context; a socket folder
    given as `?host=/path` becomes pg8000's `unix_sock`.
    """
    url = make_url(raw_url.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be a PostgreSQL URL")
    query = dict(url.query)
    connect_args: dict[str, Any] = {}
    context = _ssl_context(_one(query.get("sslmode")), _one(query.get("sslrootcert")))
    if context is not None:
        connect_args["ssl_context"] = context
    host = _one(query.get("host"))
    if host and host.startswith("/"):
        connect_args["unix_sock"] = f"{host}/.s.PGSQL.{url.port or 5432}"
        # A local socket: no TLS to ask for (pg8000 would ask, at a round trip).
        connect_args.setdefault("ssl_context", False)
    for name in _LIBPQ_ONLY:
        query.pop(name, None)
    url = url.set(drivername="postgresql+pg8000", query=query)
    return url, connect_args


def _one(value: str | tuple[str, ...] | None) -> str | None:
    return value[-1] if isinstance(value, tuple) else value


def build_engine(settings: Settings, *, database_url: str | None = None) -> Engine:
    url, connect_args = pg8000_url(database_url or settings.database_url)
    longest_statement_ms = max(
        settings.db_statement_timeout_ms, settings.db_long_statement_timeout_ms or 0
    )
    # How long a socket read may wait: the server answers within its own limits.
    connect_args["timeout"] = (
        settings.db_connect_timeout_seconds + longest_statement_ms / 1000
    )
    # No session state: nothing in the startup packet but who connects (a
    # transaction pooler refuses anything else: PgBouncer's "unsupported startup
    # parameter") and no SET. The timeouts and the time zone are the role's
    # defaults in this database, which the migration writes (db/session_limits.py).
    connect_args.setdefault("application_name", "ticketmania")
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=settings.pool_size,
        max_overflow=0 if settings.is_lambda else settings.pool_size,
        pool_timeout=settings.db_connect_timeout_seconds,
        pool_recycle=300,
        # Statement parameters (password hashes, emails) stay out of error messages and logs.
        hide_parameters=True,
    )
    ping_after_idle(engine, seconds=settings.db_idle_ping_seconds)
    event.listen(engine, "handle_error", _server_gone_is_a_disconnect)
    event.listen(engine, "do_connect", _connect_on_own_socket)
    return engine


def _connect_on_own_socket(
    dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Connect pg8000 over a socket opened here, and closed here if the connection
    fails: pg8000 leaves its own open when the server hangs up during startup
    (a restart, a shutdown), to be closed by the garbage collector, one file
    descriptor per attempt until then."""
    params = dict(cparams)
    timeout = params.get("timeout")
    unix_sock = params.pop("unix_sock", None)
    if unix_sock is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(unix_sock)
        except OSError as exc:
            sock.close()
            raise pg8000.InterfaceError("communication error") from exc
    else:
        try:
            sock = socket.create_connection(
                (params.get("host", "localhost"), params.get("port", 5432)), timeout
            )
        except OSError as exc:
            raise pg8000.InterfaceError(
                "Can't create a connection to the database server"
            ) from exc
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    try:
        return driver.Connection(*cargs, sock=sock, **params)
    except BaseException:
        sock.close()
        raise


def _server_gone_is_a_disconnect(context: ExceptionContext) -> None:
    # pg8000 reports a terminated session as an ordinary error; SQLAlchemy must
    # know the connection is dead, or the pool would hand it out again.
    if is_server_gone(context.original_exception):
        context.is_disconnect = True


def ping_after_idle(engine: Engine, *, seconds: float) -> None:
    """Check a pooled connection on checkout without a round trip per request.

    A connection the server has hung up on (a terminated backend, a restart, an
    idle timeout: the server says goodbye and closes) has something to read
    while it should be silent: one zero-timeout poll of its socket finds it,
    before anything is sent, and the pool replaces it. A connection idle for
    `seconds` or more, such as a thawed Lambda container's, whose network path
    may have gone silently, is pinged as well. A connection in steady use is
    never pinged (pool_pre_ping would add a round trip to every request), and
    one that dies while in use fails its request with a 503.
    """

    @event.listens_for(engine, "checkin")
    def _note_idle_since(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _replace_if_gone(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any
    ) -> None:
        if _has_hung_up(dbapi_connection):
            raise DisconnectionError("the server ended this connection")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return
        # In autocommit, so the ping leaves no transaction open behind it.
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.run(";")
        except pg8000.Error as exc:
            raise DisconnectionError("idle connection is gone") from exc
        finally:
            dbapi_connection.autocommit = False


def _has_hung_up(dbapi_connection: Any) -> bool:
    # pg8000 keeps its socket in `_usock`; an idle connection has nothing to read.
    poller = select.poll()
    poller.register(dbapi_connection._usock, select.POLLIN | select.POLLHUP)
    return bool(poller.poll(0))


_IDLE_SINCE = "ticketmania.idle_since"


@functools.cache
def get_engine() -> Engine:
    return build_engine(get_settings())


@functools.cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


# What the jobs and the listing are handed to open their sessions: `open_session`
# in production, whatever a test needs otherwise.
SessionOpener = Callable[[], AbstractContextManager[Session]]


@contextmanager
def open_session() -> Iterator[Session]:
    with _session_factory()() as session:
        yield session


@contextmanager
def open_job_session() -> Iterator[Session]:
    """A session for the scheduled jobs: where DB_LONG_STATEMENT_TIMEOUT_MS is
    set (AdminJobsFunction), each of its transactions may run statements that
    long; elsewhere, the same as `open_session`."""
    with _session_factory()() as session:
        long_ms = get_settings().db_long_statement_timeout_ms
        if long_ms is not None:

            @event.listens_for(session, "after_begin")
            def _allow_long_statements(
                session: Session, transaction: Any, connection: Connection
            ) -> None:
                raise_for_long_statements(connection, statement_timeout_ms=long_ms)

        yield session
