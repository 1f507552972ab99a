"""What a local run leaves behind when it dies without cleaning up (SIGKILL, an
out-of-memory kill, a closed laptop lid): the embedded Postgres and the
workers of `ticketmania serve`.

- The embedded Postgres is watched by a small process of its own, started
  with it (`python -m localdev.guardian PID PGDATA`): once the process that
  started it is gone, the guardian takes that process's handle off pgserver's
  list and, if no live process holds one any more, stops the cluster.
- A worker watches its parent from a thread, and shuts itself down (as on
  SIGTERM) once the parent is gone.
- At the next start, a handle left by a dead process is recognised and taken
  off the list first, so the cluster is reused and a later clean stop stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

POLL_SECONDS = 0.5
# How long a shut-down worker may take to finish its requests before it is ended.
WORKER_GRACE_SECONDS = 10
HANDLES = ".handle_pids.json"


def is_alive(pid: int, started_at: float | None = None) -> bool:
    """The process is running (not a zombie), and is the one started then."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_at is None or abs(process.create_time() - started_at) < 1
    except psutil.Error:
        return False


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Take processes that are gone off pgserver's list of the cluster's users;
    the live ones left."""
    path = pgdata / HANDLES
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if is_alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return alive


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop_cluster(pgdata: Path) -> None:
    """A fast shutdown (SIGINT: clients disconnected, nothing lost), then an
    immediate one if it has not ended within 10 s."""
    pid = postmaster_pid(pgdata)
    if pid is None or not is_alive(pid):
        return
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.1)


def guard_cluster(parent: int, parent_started_at: float, pgdata: Path) -> None:
    while is_alive(parent, parent_started_at):
        time.sleep(POLL_SECONDS)
    if not prune_dead_handles(pgdata):
        stop_cluster(pgdata)


def start_cluster_guardian(pgdata: Path) -> subprocess.Popen[bytes]:
    """A process that stops the cluster once this one is gone, however it went."""
    me = psutil.Process()
    return subprocess.Popen(  # noqa: S603 - this interpreter, this module, numbers and a path
        [
            sys.executable,
            "-m",
            "localdev.guardian",
            str(me.pid),
            repr(me.create_time()),
            str(pgdata),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal, or a kill of the process
        # group, does not take it down with the rest.
        start_new_session=True,
    )


def watch_parent(parent: int) -> threading.Thread:
    """In a worker: once `parent` is gone, shut this worker down as SIGTERM
    would, and end it outright if that takes too long."""
    started_at = psutil.Process(parent).create_time()

    def watch() -> None:
        while is_alive(parent, started_at) and os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(WORKER_GRACE_SECONDS)
        os._exit(1)

    thread = threading.Thread(target=watch, name="ticketmania-parent", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    guard_cluster(int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]))
