"""Small helpers for timing: repeat, summarise, format."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_calls(call: Callable[[], object], *, repeat: int, warmup: int = 5) -> Timing:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(samples)


def row(name: str, value: str, baseline: str, ratio: float, note: str = "") -> str:
    return f"| {name} | {value} | {baseline} | {ratio:.2f}x | {note} |"
