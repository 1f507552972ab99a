"""Small helpers for timing: repeat, summarise."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return median(self.samples_ms)

    @property
    def p99_ms(self) -> float:
        return percentile(self.samples_ms, 0.99)


def time_calls(call: Callable[[], object], *, repeat: int, warmup: int = 5) -> Timing:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(samples)
