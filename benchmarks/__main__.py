"""Run every benchmark and print BENCHMARKS.md's table rows (figures are this machine's)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (
    "layers/shared",
    "functions/auth",
    "functions/events",
    "functions/bookings",
    ".",
):
    sys.path.insert(0, str(ROOT / folder))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, for a smoke run"
    )
    args = parser.parse_args()
    rounds, seconds, repeat = (1, 1.0, 50) if args.quick else (3, 4.0, 400)

    from benchmarks import cold_start
    from benchmarks.environment import benchmark_environment
    from benchmarks.timing import row

    print("| benchmark | measured | baseline | ratio | note |")
    print("|---|---|---|---|---|")
    with benchmark_environment():
        from benchmarks import contention, listing

        hit, miss = listing.measure(event_count=100_000, repeat=repeat)
        print(
            row(
                "GET /events, handler, cache hit vs database (100k events)",
                f"{hit.median_ms:.2f} ms (p99 {hit.p99_ms:.2f})",
                f"{miss.median_ms:.2f} ms (p99 {miss.p99_ms:.2f})",
                miss.median_ms / hit.median_ms,
                "speed-up of the cache",
            ),
            flush=True,
        )
        for threads in (2, 8, 32):
            rate = contention.measure(threads=threads, seconds=seconds, rounds=rounds)
            comparisons = [
                (
                    "bookings/s",
                    "guarded UPDATE (production) vs SELECT FOR UPDATE",
                    "guarded",
                    "for_update",
                    "only the locking differs",
                ),
                (
                    "refusals/s on a sold-out event",
                    "guarded UPDATE (production) vs SELECT FOR UPDATE",
                    "refuse_guarded",
                    "refuse_for_update",
                    "a no-match UPDATE takes no lock",
                ),
                (
                    "bookings/s",
                    "book_seats() vs its bare statements",
                    "production",
                    "guarded",
                    "cost of the logic's Python",
                ),
            ]
            for unit, versus, measured, baseline, note in comparisons:
                print(
                    row(
                        f"{unit}, one hot event, {threads} clients: {versus}",
                        f"{rate[measured]:.0f}/s",
                        f"{rate[baseline]:.0f}/s",
                        rate[measured] / rate[baseline],
                        note,
                    ),
                    flush=True,
                )
    for name, import_ms, baseline_ms in cold_start.measure():
        print(
            row(
                f"cold import of {name}.app vs fastapi+mangum alone",
                f"{import_ms:.0f} ms",
                f"{baseline_ms:.0f} ms",
                import_ms / baseline_ms,
                "interpreter start included",
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
