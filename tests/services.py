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


def _pgbouncer_binary() -> str | None:
    # Debian installs it in /usr/sbin, which a user's PATH may not include.
    return shutil.which("pgbouncer") or shutil.which(
        "pgbouncer", path="/usr/sbin:/usr/local/sbin"
    )


@dataclass
class PgBouncer:
    """A PgBouncer in transaction mode in front of a Postgres server, owned by
    the tests and the benchmarks: what a surge deploys between the functions
    and the database (RDS Proxy, Neon's or Supabase's pooled endpoint).

    Every client transaction may run on any of `pool_size` server connections,
    far fewer than the clients; no named prepared statements survive from one
    transaction to the next (`max_prepared_statements = 0`, where the version
    knows the setting: 1.21 and later; older ones never carry them); startup
    parameters but the few it tracks are refused, as a hosted pooler refuses them.
    """

    server_url: str
    pool_size: int = 2
    max_clients: int = 200
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    folder: Path | None = None

    def url_for(self, database: str) -> str:
        """A client's URL for `database` through the pooler."""
        return (
            make_url(self.server_url)
            .set(host="127.0.0.1", port=self.port, database=database, query={})
            .render_as_string(hide_password=False)
        )

    @staticmethod
    def version() -> tuple[int, int] | None:
        binary = _pgbouncer_binary()
        if binary is None:
            return None
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=True
        ).stdout
        major, minor = output.split()[1].split(".")[:2]
        return int(major), int(minor)

    def _config(self) -> str:
        server = make_url(self.server_url)
        query = dict(server.query)
        host = query.get("host") or server.host or "127.0.0.1"
        target = f"host={host} port={server.port or 5432}"
        target += f" user={server.username or 'postgres'}"
        if server.password:
            target += f" password={server.password}"
        version = self.version() or (0, 0)
        assert self.folder is not None
        lines = [
            "[databases]",
            f"* = {target}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            # Clients are the tests' own processes on loopback; the server
            # connections log in as the database line says.
            "auth_type = any",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            f"max_client_conn = {self.max_clients}",
            # A client queued this long for a server connection is refused
            # (a stuck test fails, it does not hang).
            "query_wait_timeout = 30",
            f"logfile = {self.folder / 'pgbouncer.log'}",
            f"pidfile = {self.folder / 'pgbouncer.pid'}",
        ]
        if version >= (1, 21):
            lines.append("max_prepared_statements = 0")
        return "\n".join(lines) + "\n"

    def start(self) -> PgBouncer:
        binary = _pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.folder = Path(tempfile.mkdtemp(prefix="ticketmania-pgbouncer-"))
        config = self.folder / "pgbouncer.ini"
        config.write_text(self._config())
        command = [binary, "-q", str(config)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it runs as an unprivileged user,
            # who must be able to write its log and pid files.
            self.folder.chmod(0o777)
            config.chmod(0o644)
            command[1:1] = ["-u", _unprivileged_user()]
        with open(os.devnull, "wb") as quiet:
            self.process = subprocess.Popen(command, stdout=quiet, stderr=quiet)
        deadline = time.monotonic() + 10
        while not is_listening("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.folder / "pgbouncer.log"
                detail = log.read_text()[-500:] if log.exists() else ""
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {detail}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _unprivileged_user() -> str:
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("no unprivileged user to run pgbouncer as")


LOCALSTRIPE_VENV = Path(__file__).resolve().parents[1] / ".venv-localstripe"
# localstripe accepts any key that looks like a test key.
LOCALSTRIPE_SECRET_KEY = "sk_test_ticketmania_local"


@dataclass
class LocalStripe:
    """localstripe (a fake Stripe API from PyPI, in a virtualenv of its own,
    `make localstripe`) on 127.0.0.1, owned by the tests: what the `stripe`
    SDK talks to instead of api.stripe.com."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStripe:
        binary = LOCALSTRIPE_VENV / "bin" / "localstripe"
        if not binary.exists():
            raise RuntimeError("localstripe is not installed (make localstripe)")
        # It listens on [::]: a port free_port found free on 127.0.0.1 may be
        # taken there (it then exits at once, status 1): try another.
        for _ in range(3):
            if self._started(binary):
                return self
            self.port = free_port()
        raise RuntimeError("localstripe exited before it listened, on three ports")

    def _started(self, binary: Path) -> bool:
        self.process = subprocess.Popen(
            [str(binary), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Its first start on a fresh machine (aiohttp's imports, while the
        # rest of the set-up still loads the cores) took over 20 s once in CI.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localstripe did not start on port {self.port} in 90 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None
