"""`ticketmania serve` however it ends, and how it starts: killed outright it
leaves no worker and no embedded Postgres behind, a handle left by a dead
process is recognised, the port is checked before anything else runs, and a
database that cannot be used is one line, exit 2."""

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.integration.test_cli import (
    CLI,
    ROOT,
    postgres_pids_for,
    run_cli,
    wait_for_health,
)
from tests.services import free_port


def embedded_environment(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SECRET_KEY", "APP_ENV"}
    }
    env.update({"TICKETMANIA_DATA_DIR": str(tmp_path / "data")})
    return env


def start_serve(port, env, workers):
    return subprocess.Popen(
        [
            *CLI,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def children_of(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(children):
    """The server's own processes still running: its workers and, with them,
    multiprocessing's resource tracker (not Postgres, nor its guardian)."""
    running = []
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE or "postgres" in child.name():
                continue
            if "localdev.guardian" not in " ".join(child.cmdline()):
                running.append(child)
        except psutil.NoSuchProcess:
            continue
    return running


def workers_of(children):
    return [
        child
        for child in alive(children)
        if "resource_tracker" not in " ".join(child.cmdline())
    ]


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_killed_server_leaves_no_worker_and_no_postgres(tmp_path, workers):
    port = free_port()
    env = embedded_environment(tmp_path)
    data = tmp_path / "data"
    process = start_serve(port, env, workers)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process)
        children = children_of(process.pid)
        assert len(workers_of(children)) == (workers if workers > 1 else 0)
        assert postgres_pids_for(data)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert wait_until(lambda: not alive(children)), alive(children)
        assert wait_until(lambda: not postgres_pids_for(data)), "Postgres outlived it"
    finally:
        stop(process)
    # Again, on the same port, and cleanly stopped this time.
    again = start_serve(port, env, workers)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", again)
    finally:
        stop(again)
    assert wait_until(lambda: not postgres_pids_for(data))


def test_a_handle_of_a_dead_process_is_recognised(tmp_path):
    """The guardian itself killed too: the next start finds the cluster running
    and a dead process's handle; it takes the handle off and joins the cluster,
    and its clean stop stops it."""
    port = free_port()
    env = embedded_environment(tmp_path)
    data = tmp_path / "data"
    process = start_serve(port, env, 1)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process)
        guardians = [
            child
            for child in psutil.process_iter(["cmdline"])
            if "localdev.guardian" in " ".join(child.info["cmdline"] or [])
            and str(process.pid) in child.info["cmdline"]
        ]
        assert len(guardians) == 1
        guardians[0].kill()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        stop(process)
    assert postgres_pids_for(data), "nothing should have stopped it this time"
    handles = json.loads((data / "postgres" / ".handle_pids.json").read_text())
    assert handles == [process.pid]
    again = start_serve(port, env, 1)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", again)
    finally:
        stop(again)
    assert wait_until(lambda: not postgres_pids_for(data))


def test_a_port_in_use_is_found_before_anything_runs(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    with taken:
        started = time.monotonic()
        result = run_cli(
            "serve",
            "--port",
            str(port),
            env={
                **embedded_environment(tmp_path),
                "TICKETMANIA_JOBS": "on",
            },
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ticketmania: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not (tmp_path / "data" / "postgres").exists()  # no Postgres was started
    assert elapsed < 30


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            lambda port, name: f"postgresql://postgres@127.0.0.1:{port}/ticketmania",
            "connection refused",
        ),
        (
            lambda port, name: f"postgresql://postgres@127.0.0.1:5432/{name}",
            'database "no_such_database_here" does not exist',
        ),
    ],
    ids=["unreachable", "missing"],
)
def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(url, reason):
    port = free_port()
    database_url = url(port, "no_such_database_here")
    place = database_url.split("@")[1]
    for command in (["migrate"], ["job", "purge-idempotency-keys"]):
        result = run_cli(*command, env={"DATABASE_URL": database_url})
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last == f"ticketmania: cannot use the database at {place}: {reason}"


@pytest.mark.parametrize(
    "url", ["notaurl", "mysql://u:pw@h/db", "postgresql://u:pw@h:abc/db"]
)
def test_a_malformed_database_url_is_one_line_and_exit_2(tmp_path, url):
    for command in (["migrate"], ["serve", "--port", str(free_port())]):
        result = run_cli(
            *command,
            env={"DATABASE_URL": url, "TICKETMANIA_DATA_DIR": str(tmp_path)},
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("ticketmania: invalid configuration: database_url:")
        assert "pw" not in lines[0]


def test_serve_with_a_database_that_cannot_be_used_says_so_in_one_line(tmp_path):
    result = run_cli(
        "serve",
        "--port",
        str(free_port()),
        env={
            "DATABASE_URL": f"postgresql://u:secret@127.0.0.1:{free_port()}/db",
            "TICKETMANIA_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("ticketmania: cannot use the database at 127.0.0.1:")
    )
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_make_run_takes_host_port_and_workers():
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8001", "HOST=0.0.0.0", "WORKERS=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "serve --host 0.0.0.0 --port 8001 --workers 2" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("ticketmania ")


def test_create_admin_asks_for_the_password_twice(client):
    from tests.factories import login, unique_email

    email = unique_email("asked")
    password = "typed twice, never shown"
    result = subprocess.run(
        [*CLI, "create-admin", "--email", email],
        cwd=ROOT,
        input=f"{password}\n{password}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    assert login(client, email, password)
    mismatch = subprocess.run(
        [*CLI, "create-admin", "--email", unique_email("asked")],
        cwd=ROOT,
        input=f"{password}\nsomething else\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert mismatch.returncode == 2
    assert "the passwords do not match" in mismatch.stderr


def test_create_admin_at_a_terminal_does_not_echo_the_password(client):
    import pty

    from tests.factories import login, unique_email

    email = unique_email("tty")
    password = "typed at a terminal"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*CLI, "create-admin", "--email", email],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""
    try:
        for _ in range(2):
            while b"Password" not in seen.split(b"\n")[-1]:
                seen += os.read(controller, 1024)
            os.write(controller, password.encode() + b"\n")
            seen += b"\n"
        assert process.wait(120) == 0
        while True:
            try:
                chunk = os.read(controller, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert password.encode() not in seen
    assert login(client, email, password)


@pytest.mark.parametrize("workers", [1, 3])
def test_ctrl_c_stops_the_jobs_before_the_embedded_postgres_quietly(tmp_path, workers):
    """Ctrl-C (SIGINT to the terminal's whole process group) while the jobs
    run every second: the jobs stop first, so no job meets a stopping database
    and nothing but the usual lines is printed. Several times, at different
    moments of the jobs' second."""
    env = {**embedded_environment(tmp_path), "TICKETMANIA_JOBS": "on"}
    for attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            wait_for_health(f"http://127.0.0.1:{port}", process)
            time.sleep(1.0 + attempt * 0.3)
            os.killpg(process.pid, signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=10)
        for sign in ("Traceback", "Error", "scheduled job failed", "network error"):
            assert sign not in stderr, (attempt, stderr)
