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
# every second, so an offer follows a lapse at once.
LOCAL_EVERY_SECONDS = {"relay-outbox": 5, "expire-holds": 1}


def run_due_jobs(next_runs: dict[str, float], now: float) -> None:
    for name, job in JOBS.items():
        if now < next_runs.get(name, 0.0):
            continue
        next_runs[name] = now + LOCAL_EVERY_SECONDS.get(name, job.every_seconds)
        try:
            run_job(name)
        except Exception:
            logger.exception("scheduled job failed", extra={"job": name})


def start_scheduler() -> threading.Thread:
    def loop() -> None:
        next_runs: dict[str, float] = {}
        while True:
            run_due_jobs(next_runs, time.monotonic())
            time.sleep(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="ticketmania-jobs", daemon=True)
    thread.start()
    return thread
