"""Real Postgres and Redis for the test session: found, or started, never mocked.

Postgres: TEST_DATABASE_URL (a server; each session creates and drops its own
database), else 127.0.0.1:5432, else an embedded Postgres (pgserver) in a
temporary folder. Redis: a private redis-server on a free port when the
binary exists, else TEST_REDIS_URL / 127.0.0.1:6379.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ticketmania.db.engine import pg8000_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class RedisServer:
    """A redis-server process owned by the tests, so they may stop and break it."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (apt-get install redis-server)"
            )
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


@dataclass
class TestDatabase:
    server_url: str
    name: str = field(
        default_factory=lambda: f"ticketmania_test_{uuid.uuid4().hex[:10]}"
    )
    embedded: object | None = None

    @property
    def url(self) -> str:
        return (
            make_url(self.server_url)
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def _admin(self, sql: str) -> None:
        url, connect_args = pg8000_url(self.server_url)
        engine = create_engine(
            url, connect_args=connect_args, isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            connection.execute(text(sql))
        engine.dispose()

    def create(self) -> TestDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if self.embedded is not None:
            self.embedded.stop()  # type: ignore[attr-defined]
            shutil.rmtree(self.embedded.data_dir, ignore_errors=True)  # type: ignore[attr-defined]


def find_postgres() -> TestDatabase:
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        return TestDatabase(server_url)
    if is_listening("127.0.0.1", 5432):
        return TestDatabase(DEFAULT_SERVER_URL)
    from localdev.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="ticketmania-test-pg-")))
    server_url = (
        make_url(embedded.url)
        .set(database="postgres")
        .render_as_string(hide_password=False)
    )
    return TestDatabase(server_url, embedded=embedded)


def find_redis() -> tuple[str, RedisServer | None]:
    if shutil.which("redis-server"):
        server = RedisServer().start()
        return server.url, server
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"no Redis: install redis-server or set TEST_REDIS_URL ({exc})"
        ) from exc
    return url, None
