"""Progress lines on stderr while the run goes on (stdout carries the results)."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def say(message: str) -> None:
    elapsed = time.monotonic() - _START
    minutes, seconds = divmod(int(elapsed), 60)
    print(f"bench [{minutes:2d}:{seconds:02d}] {message}", file=sys.stderr, flush=True)


def elapsed_seconds() -> float:
    return time.monotonic() - _START
