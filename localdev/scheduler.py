"""The scheduled jobs, run by `ticketmania serve` on their schedules, as
EventBridge runs them in AWS: each every `Job.every_seconds`, the first time
right away; but the outbox relay every few seconds, so a developer who books
sees the e-mail land in <data dir>/mail at once. A background thread of the
serving process; a job that fails is logged and tried again at its next turn."""

from __future__ import annotations

import threading
import time

from ticketmania.jobs import JOBS, run_job
from ticketmania.observability import logger

TICK_SECONDS = 1.0
# The relay every few seconds, so a booking's e-mail lands at once; the holds
# every second, so an offer follows a lapse at once; the waiting room's inlet
# every second, so the queue moves as it would between minutes in AWS.
LOCAL_EVERY_SECONDS = {"relay-outbox": 5, "expire-holds": 1, "waiting-room-inlet": 1}
OWN_THREAD = ("waiting-room-inlet",)


def run_due_jobs(
    next_runs: dict[str, float],
    now: float,
    stopping: threading.Event | None = None,
    *,
    names: list[str] | None = None,
) -> None:
    for name, job in JOBS.items():
        if names is not None and name not in names:
            continue
        if stopping is not None and stopping.is_set():
            return
        if now < next_runs.get(name, 0.0):
            continue
        next_runs[name] = now + LOCAL_EVERY_SECONDS.get(name, job.every_seconds)
        try:
            run_job(name)
        except Exception:
            logger.exception("scheduled job failed", extra={"job": name})


class Scheduler:
    """The jobs' threads: started with the server, stopped before what the jobs
    use (the embedded Postgres) is stopped, so no job runs against a database
    that is going away. The waiting room's inlet has a thread of its own, as
    it has its own schedule in AWS: a relay sending a thousand e-mails must
    not hold the queue still."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._loop, args=(jobs,), name=f"ticketmania-{name}", daemon=True
            )
            for name, jobs in (
                ("jobs", [n for n in JOBS if n not in OWN_THREAD]),
                *((n, [n]) for n in OWN_THREAD),
            )
        ]

    def _loop(self, names: list[str]) -> None:
        next_runs: dict[str, float] = {}
        while not self._stopping.is_set():
            run_due_jobs(next_runs, time.monotonic(), self._stopping, names=names)
            self._stopping.wait(TICK_SECONDS)

    def start(self) -> Scheduler:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Run no further job and wait for the ones running, if any, to end."""
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
