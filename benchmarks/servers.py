"""HTTP servers the load runs against: `ticketmania serve` and the bare uvicorn app.

Each is started in a process group of its own and stopped by that group's id.
Ready means: it answers GET /health, all its workers exist, and they have
stopped burning CPU on imports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]


class Server:
    def __init__(
        self, name: str, command: list[str], *, env: dict[str, str], workers: int
    ) -> None:
        self.name = name
        self.workers = workers
        self.port = free_port()
        self.command = [*command, "--port", str(self.port)]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept open while it runs)
            prefix=f"bench-{name}-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 120) -> Server:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} not ready in {timeout}s: {self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        parent = psutil.Process(self.process.pid)
        while self.workers > 1 and len(_workers(parent)) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: fewer than {self.workers} workers")
            time.sleep(0.2)
        # Workers import the apps after they start: wait until they are idle.
        quiet = 0
        before = _cpu_seconds(parent)
        while quiet < 3 and time.monotonic() < deadline:
            time.sleep(0.25)
            now = _cpu_seconds(parent)
            quiet = quiet + 1 if now - before < 0.03 else 0
            before = now
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def log_tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-1500:]


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    # uvicorn's supervisor spawns one process per worker (multiprocessing may add
    # its resource tracker, which runs no Python of ours: not counted).
    return [
        child
        for child in parent.children()
        if "resource_tracker" not in " ".join(child.cmdline())
    ]


def _cpu_seconds(parent: psutil.Process) -> float:
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def ticketmania_serve(*, env: dict[str, str], workers: int) -> Server:
    """`ticketmania serve` as a developer runs it."""
    return Server(
        f"ticketmania-serve-w{workers}",
        [
            sys.executable,
            "-m",
            "localdev.cli",
            "serve",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        workers=workers,
    )


def bare_uvicorn(*, env: dict[str, str], workers: int, nodelay: bool = True) -> Server:
    """The bare FastAPI app under uvicorn: with TCP_NODELAY (benchmarks/nodelay.py),
    as `ticketmania serve`'s own socket has it, or as uvicorn binds it."""
    launcher = "benchmarks.nodelay" if nodelay else "uvicorn"
    return Server(
        f"bare-fastapi-w{workers}{'' if nodelay else '-as-uvicorn-binds-it'}",
        [
            sys.executable,
            "-m",
            launcher,
            "benchmarks.bare_app:app",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        workers=workers,
    )
