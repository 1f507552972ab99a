"""Cold start: importing each function's app module in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_ms(statement: str, runs: int) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [
                str(ROOT / "layers/shared"),
                *(str(p) for p in sorted((ROOT / "functions").iterdir())),
            ]
        ),
    }
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", statement],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return samples[len(samples) // 2]


def measure(*, runs: int = 7) -> list[tuple[str, float, float]]:
    """(function, import ms, baseline ms), medians of `runs` fresh interpreters;
    the baseline imports FastAPI and Mangum alone."""
    baseline = _import_ms("import fastapi, mangum", runs)
    return [
        (name, _import_ms(f"import {name}.app", runs), baseline)
        for name in ("auth", "events", "bookings")
    ]
