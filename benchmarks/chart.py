"""The chart of BENCHMARKS.md: throughput (left) and latency (right) against concurrency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SERIES = {
    "booking": ("POST /bookings, ticketmania serve", "tab:blue"),
    "bare": ("bare FastAPI POST, uvicorn (TCP_NODELAY)", "tab:orange"),
    "pgbench_one_row": ("pgbench: one-row booking transaction", "tab:green"),
}


def draw(curve: dict[str, Any], *, workers: int, path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    for name, (label, colour) in SERIES.items():
        points = curve.get(name, {})
        levels = [c for c in curve["levels"] if str(c) in points]
        if not levels:
            continue
        rows = [points[str(c)] for c in levels]
        left.plot(
            levels, [r["per_second"] for r in rows], "o-", color=colour, label=label
        )
        right.plot(levels, [r["p50_ms"] for r in rows], "o-", color=colour)
        right.plot(levels, [r["p99_ms"] for r in rows], "x--", color=colour, alpha=0.7)
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(curve["levels"])
        axis.set_xticklabels([str(c) for c in curve["levels"]])
        axis.set_xlabel("concurrent connections (pgbench: clients)")
        axis.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("successful requests per second (log)")
    left.set_title(f"Throughput, {workers} uvicorn workers")
    left.legend(fontsize=7, loc="lower right")  # the same colours on the right
    right.set_yscale("log")
    right.set_ylabel("latency, ms (log)")
    right.set_title("Latency: p50 (solid, o) and p99 (dashed, x)")
    figure.suptitle(f"Bookings vs concurrency: {subtitle}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
