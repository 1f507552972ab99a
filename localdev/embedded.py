"""An embedded Postgres (the pgserver wheel) for running locally with nothing installed."""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text

from localdev.guardian import prune_dead_handles, start_cluster_guardian
from ticketmania.db.engine import pg8000_url

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

DATABASE_NAME = "ticketmania"


@functools.cache
def _pgserver_get_server() -> Callable[..., PostgresServer]:
    """pgserver, imported once and only by local runs without DATABASE_URL.

    pgserver asks platformdirs for a runtime folder as it is imported; outside a
    login session (a container, CI) XDG_RUNTIME_DIR is unset, and the fallback
    platformdirs then warns about (/tmp/runtime-UID) serves."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from pgserver.postgres_server import get_server

    return get_server


class EmbeddedPostgres:
    """The cluster in `data_dir`, started (or joined, when another process of
    this checkout runs it) and stopped by the last process that uses it, even
    one killed outright (localdev/guardian.py)."""

    def __init__(self, data_dir: Path) -> None:
        get_server = _pgserver_get_server()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        # A handle of a process that died without letting go would keep the
        # cluster up after every later clean stop.
        prune_dead_handles(data_dir)
        self._server = get_server(data_dir, cleanup_mode="stop")
        self._guardian = start_cluster_guardian(data_dir)
        self._stopped = False
        self._lock = threading.Lock()
        self._ensure_database()

    @property
    def pid(self) -> int | None:
        return self._server.get_pid()

    @property
    def url(self) -> str:
        return self._server.get_uri(DATABASE_NAME)

    def _ensure_database(self) -> None:
        url, connect_args = pg8000_url(self._server.get_uri("postgres"))
        engine = create_engine(
            url, connect_args=connect_args, isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": DATABASE_NAME},
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{DATABASE_NAME}"'))
        engine.dispose()

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.cleanup()
        self._guardian.terminate()
        self._guardian.wait(10)
