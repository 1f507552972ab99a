"""The `ticketmania` command: serve (embedded Postgres, clean shutdown), migrate, create-admin."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text

from tests.factories import DEFAULT_PASSWORD, login, signup
from tests.services import free_port
from ticketmania.db.engine import get_engine

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "localdev.cli"]


def run_cli(*args, env=None, timeout=120, environment=None):
    """The command with `env` over the tests' environment (or exactly `environment`)."""
    if environment is None:
        environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for_health(base_url, process, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"serve exited early: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            response = httpx.get(f"{base_url}/health", timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not become healthy")


def serve_one_worker(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    """`ticketmania serve` with one worker; stderr kept for the test to read."""
    return subprocess.Popen(
        [
            *CLI,
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def postgres_pids_for(data_dir: Path):
    pids = []
    for process in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(data_dir) in cmdline:
            pids.append(process.pid)
    return pids


def test_serve_with_no_database_url_runs_embedded_postgres_and_stops_it(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY", "APP_ENV"}
    }
    env.update(
        {
            "TICKETMANIA_DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        health = wait_for_health(base_url, process)
        assert health == {"status": "ok", "database": "ok", "cache": "disabled"}
        created = httpx.post(
            f"{base_url}/auth/signup",
            json={
                "name": "Ada",
                "email": "ada@example.com",
                "password": DEFAULT_PASSWORD,
            },
        )
        assert created.status_code == 201
        token = httpx.post(
            f"{base_url}/auth/login",
            data={"username": "ada@example.com", "password": DEFAULT_PASSWORD},
        ).json()["access_token"]
        me = httpx.get(
            f"{base_url}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["email"] == "ada@example.com"
        assert httpx.get(f"{base_url}/docs").status_code == 200
        assert "/auth/login" in httpx.get(f"{base_url}/openapi.json").json()["paths"]
        assert postgres_pids_for(tmp_path / "data"), (
            "the embedded Postgres should be running"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)  # waits, and closes the pipes
    assert "cache disabled" in stderr
    deadline = time.monotonic() + 10
    while postgres_pids_for(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postgres_pids_for(tmp_path / "data") == [], (
        "the embedded Postgres outlived `ticketmania serve`"
    )


def test_migrate_applies_every_revision():
    result = run_cli("migrate")
    assert result.returncode == 0, result.stderr
    with get_engine().connect() as connection:
        head = connection.scalar(text("SELECT version_num FROM alembic_version"))
    from alembic.script import ScriptDirectory

    from ticketmania.db.migrate import alembic_config

    assert head == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_create_admin_creates_an_admin_who_can_log_in(client):
    result = run_cli(
        "create-admin",
        "--email",
        "Boss@Example.com",
        "--password",
        "admin password",
        "--name",
        "Boss",
    )
    assert result.returncode == 0, result.stderr
    token = login(client, "boss@example.com", "admin password")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["name"]) == ("admin", "Boss")


def test_create_admin_promotes_an_existing_user_keeping_the_password(client):
    user = signup(client)
    result = run_cli(
        "create-admin", "--email", user["email"], "--password", "ignored password"
    )
    assert result.returncode == 0, result.stderr
    assert "promoted" in result.stderr
    token = login(client, user["email"], DEFAULT_PASSWORD)
    assert (
        client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()[
            "role"
        ]
        == "admin"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--password", "long enough"], "invalid email"),
        (["--email", "a@example.com", "--password", "short"], "8 to 128"),
    ],
)
def test_create_admin_refuses_bad_input(args, message):
    result = run_cli("create-admin", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_refuses_a_weak_secret_outside_local_mode():
    result = run_cli("migrate", env={"APP_ENV": "production", "SECRET_KEY": "weak"})
    assert result.returncode == 2
    assert "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_bad_setting_says_so_in_one_line(tmp_path):
    result = run_cli(
        "serve",
        env={
            "ACCESS_TOKEN_EXPIRE_MINUTES": "soon",
            "TICKETMANIA_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "access_token_expire_minutes" in lines[0] and "soon" not in lines[0]


def test_serve_runs_the_jobs_so_a_booking_email_lands_in_the_mail_folder(
    client, tmp_path
):
    from tests.factories import create_event, make_admin, user_token

    admin = make_admin(client)[1]
    event = create_event(client, admin)
    _, token = user_token(client)
    port = free_port()
    env = {
        **os.environ,
        "TICKETMANIA_JOBS": "on",
        "TICKETMANIA_DATA_DIR": str(tmp_path),
    }
    with serve_one_worker(port, env) as process:
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_health(base_url, process)
            booked = httpx.post(
                f"{base_url}/bookings",
                json={"event_id": event["id"], "seats_booked": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert booked.status_code == 201
            deadline = time.monotonic() + 30
            while not list((tmp_path / "mail").glob("*.eml")):
                assert time.monotonic() < deadline, (
                    "no e-mail landed in the mail folder"
                )
                time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
    assert "jobs: running on their schedules" in stderr
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_serve_with_jobs_off_runs_none(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "TICKETMANIA_JOBS": "off",
        "TICKETMANIA_DATA_DIR": str(tmp_path),
    }
    with serve_one_worker(port, env) as process:
        try:
            wait_for_health(f"http://127.0.0.1:{port}", process)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
    assert "jobs:" not in stderr


def test_job_command_runs_a_job_and_refuses_an_unknown_one():
    result = run_cli("job", "purge-idempotency-keys")
    assert result.returncode == 0, result.stderr
    assert '"purged": 0' in result.stdout
    unknown = run_cli("job", "make-coffee")
    assert unknown.returncode == 2 and "relay-outbox" in unknown.stderr


def test_job_command_refuses_a_day_that_is_not_one_in_one_line():
    result = run_cli("job", "sales-report", "--date", "26/11/2026")
    assert result.returncode == 2
    assert "is not a day: YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.stderr


def nodelay_of_accepted_connection(listener) -> int:
    """TCP_NODELAY on the server side of a connection asyncio accepted from `listener`."""
    import asyncio
    import socket

    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader, writer) -> None:
            peer = writer.get_extra_info("socket")
            accepted.set_result(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        async with server:
            port = listener.getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            nodelay = await asyncio.wait_for(accepted, timeout=10)
            writer.close()
            return nodelay

    # A loop of its own, not asyncio.run(): that would also unset (and leak) the
    # loop the thread already had.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(accept_one())
    finally:
        loop.close()


def test_the_workers_listening_socket_gives_its_connections_tcp_nodelay():
    # Without TCP_NODELAY each response waited ~40 ms for a delayed ACK.
    import socket

    from localdev.cli import tcp_listener

    assert nodelay_of_accepted_connection(tcp_listener("127.0.0.1", 0)) != 0
    # A socket made as uvicorn makes it (protocol 0) does not: the bug it fixes.
    as_uvicorn_makes_it = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    as_uvicorn_makes_it.bind(("127.0.0.1", 0))
    assert nodelay_of_accepted_connection(as_uvicorn_makes_it) == 0


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            env={"TICKETMANIA_JOBS": "off", "TICKETMANIA_DATA_DIR": str(tmp_path)},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrations_started_at_once_take_turns_and_all_succeed():
    """Four `ticketmania migrate` (as four local servers starting at once, which
    `make bench` does) against one database: each waits for the migration lock
    and finds the database up to date."""
    processes = [
        subprocess.Popen(
            [*CLI, "migrate"],
            cwd=ROOT,
            env=os.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in processes]
    for process in processes:
        if process.stderr:
            process.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0, 0], results
