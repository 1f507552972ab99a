"""Cold starts, warm bookings and sizes of what `sam build` made, against bare functions.

    python -m benchmarks.artefact [--build-dir .aws-sam/build] [--runs 7]

(`make coldstart` builds first, then runs this; `make bench` runs `measure` as
one of its sections.) For every API function and for a bare FastAPI + Mangum
function with one route, it starts fresh `python3.12 -I -S -B` processes the
way Lambda does (scripts/invoke_built_function.py: only the function's folder
and its layers' python/ on the path, no bytecode written) that import the
handler and answer one event that needs the database. Two bare functions: one
compiled like ours and run on the same layer (so the ratio is what our own
imports cost), and one as `sam build` makes it by default, with no bytecode
anywhere (what a team starting from the SAM template would ship). Wall time of
the whole process, median of several, the variants interleaved run by run.

Then the same under a CPU quota equal to Lambda's share at 512, 1,024 and
1,769 MB (a cgroup's cfs quota: Lambda gives one vCPU at 1,769 MB, in
proportion below), where BookingsFunction also answers 20 bookings warm after
its first answer; with Lambda's published price, the cost per million
bookings at each size. Then the layers' and each function's size. Prints
Markdown table rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lambda_events import load_event, with_overrides

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "scripts" / "invoke_built_function.py"
MAX_LAYER_BYTES = 45_000_000

# Lambda's price, x86_64, us-east-1 (aws.amazon.com/lambda/pricing), billed per ms.
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_MILLION_REQUESTS = 0.20
# Lambda gives a whole vCPU at 1,769 MB and CPU in proportion to memory below it.
MEMORY_SIZES_MB = (512, 1024, 1769)
ONE_VCPU_MB = 1769
WARM_BOOKINGS = 20
# The memory the template gets: the smallest whose slowest cold start is at most
# this many times the slowest at a whole vCPU.
COLD_START_TOLERANCE = 1.5

BARE_APP = """
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
"""


@dataclass(frozen=True)
class Function:
    module: str
    sample: str  # the events/ sample its first request answers
    layers: str = "SharedLayer"


FUNCTIONS = {
    "AuthFunction": Function("auth.app", "http_api_health"),
    # As deployed: the waiting room's tokens are signed and verified with the
    # ticket keys (TicketsLayer), loaded only by a request that needs them.
    "EventsFunction": Function(
        "events.app", "http_api_events_list", "SharedLayer,TicketsLayer"
    ),
    "BookingsFunction": Function(
        "bookings.app", "http_api_bookings_my", "SharedLayer,TicketsLayer"
    ),
    "TicketsFunction": Function(
        "tickets.app", "http_api_tickets_ticket", "SharedLayer,TicketsLayer"
    ),
    # Its own layer: the `stripe` package and `requests`, loaded by no other.
    "PaymentsFunction": Function(
        "payments.app", "http_api_payments_get", "SharedLayer,PaymentsLayer"
    ),
}
# PaymentsFunction refuses to start in production without a Stripe key: a
# made-up one (its cold start makes no call to Stripe; its sample is a 404).
PAYMENTS_ENV = {
    "PAYMENT_PROVIDER": "stripe",
    "STRIPE_SECRET_KEY": "sk_test_cold_start_benchmark",
    "STRIPE_WEBHOOK_SECRET": "whsec_cold_start_benchmark",
}
BARE = "bare (compiled like ours, same layer)"
BARE_DEFAULT = "bare (sam build's default: no bytecode)"


def say(message: str) -> None:
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


def python312() -> str | None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "python312-path.sh")],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return None
    return f"{result.stdout.strip()}/python3.12"


@contextmanager
def lambda_runtime_stand_in() -> Iterator[Path]:
    """A folder standing in for what Lambda's python3.12 runtime puts on the path
    after the layer: boto3 and botocore (which the X-Ray SDK needs when tracing)."""
    import boto3
    import botocore
    import s3transfer
    import urllib3

    with tempfile.TemporaryDirectory(prefix="ticketmania-runtime-") as scratch:
        for package in (boto3, botocore, s3transfer, urllib3):
            source = Path(package.__file__).parent
            (Path(scratch) / source.name).symlink_to(source)
        yield Path(scratch)


@contextmanager
def bare_functions_beside(build_dir: Path, python: str) -> Iterator[dict[str, Path]]:
    """Build folders for the two bare functions: one holding the real layer and the
    bare function compiled alike; one with the layer's packages and no bytecode."""
    with tempfile.TemporaryDirectory(prefix="ticketmania-bare-") as scratch:
        compiled, default = Path(scratch) / "compiled", Path(scratch) / "default"
        (compiled / "SharedLayer").parent.mkdir(parents=True)
        (compiled / "SharedLayer").symlink_to(build_dir.resolve() / "SharedLayer")
        shutil.copytree(
            build_dir / "SharedLayer",
            default / "SharedLayer",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        for folder in (compiled, default):
            package = folder / "BareFunction" / "bare"
            package.mkdir(parents=True)
            (package / "__init__.py").write_text("")
            (package / "app.py").write_text(BARE_APP)
        subprocess.run(
            [
                python,
                "-m",
                "compileall",
                "-q",
                "-f",
                "--invalidation-mode",
                "unchecked-hash",
                "-d",
                "/var/task",
                str(compiled / "BareFunction"),
            ],
            check=True,
        )
        yield {BARE: compiled, BARE_DEFAULT: default}


@contextmanager
def cpu_quota(memory_mb: int) -> Iterator[Callable[[], None] | None]:
    """A function that moves the calling process into a cgroup with Lambda's CPU
    share at `memory_mb`, or None where this machine lets no cgroup be made."""
    share = min(memory_mb / ONE_VCPU_MB, 1.0)
    period = 100_000
    v1 = Path("/sys/fs/cgroup/cpu")
    v2 = Path("/sys/fs/cgroup")
    name = f"ticketmania-bench-{memory_mb}-{os.getpid()}"
    if (v1 / "cpu.cfs_quota_us").exists():
        group = v1 / name
        limits = {
            "cpu.cfs_period_us": str(period),
            "cpu.cfs_quota_us": str(int(share * period)),
        }
    elif (v2 / "cgroup.controllers").exists():
        group = v2 / name
        limits = {"cpu.max": f"{int(share * period)} {period}"}
    else:
        yield None
        return
    try:
        group.mkdir()
    except OSError:  # not root, or no cgroup filesystem we may write
        yield None
        return
    try:
        for file, value in limits.items():
            (group / file).write_text(value)
    except OSError:  # e.g. cgroup v2 without the cpu controller for its children
        group.rmdir()
        yield None
        return
    procs = group / "cgroup.procs"

    def enter() -> None:
        procs.write_text(str(os.getpid()))

    try:
        yield enter
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:  # a child has not been reaped yet
                time.sleep(0.1)


@dataclass(frozen=True)
class Start:
    wall_ms: float
    warm_booking_ms: float | None


def start_once(
    python: str,
    build_dir: Path,
    function: str,
    module: str,
    events: list[dict[str, Any]],
    env: dict[str, str],
    runtime: Path,
    enter_quota: Callable[[], None] | None = None,
) -> tuple[Start, list[dict[str, Any]]]:
    """One fresh process: start, import, first answer (a 2xx or 4xx), then the rest."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            python,
            "-I",
            "-S",
            "-B",
            str(RUNNER),
            str(build_dir),
            function,
            module,
            str(runtime),
        ],
        input=json.dumps(events),
        env={
            **env,
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "POWERTOOLS_SERVICE_NAME": function,
        },
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=enter_quota,
    )
    elapsed = (time.perf_counter() - started) * 1000
    # RuntimeError, not SystemExit: `make bench` records a failed section and
    # still writes every other figure.
    if result.returncode != 0:
        raise RuntimeError(f"{function} failed to start:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    answers: list[dict[str, Any]] = report["answers"]
    statuses = [answer["statusCode"] for answer in answers]
    if statuses[0] >= 500 or any(status >= 300 for status in statuses[1:]):
        raise RuntimeError(f"{function} answered {statuses}")
    # the first answer is the cold one (the first request that reached the process)
    first_answer_ms = elapsed - sum(report["answer_ms"][1:])
    warm = report["answer_ms"][1:]
    return Start(first_answer_ms, statistics.median(warm) if warm else None), answers


class Samples:
    """The events each function answers: a token of a user with a booking."""

    def __init__(self) -> None:
        from benchmarks import seed

        user_id = seed.create_users(1)[0]
        self.token = seed.token(user_id)
        self.event_id = seed.create_event(total_seats=1_000_000, title="Cold start")
        self.booking_id: int | None = None

    def first(self, function: str) -> dict[str, Any]:
        name = FUNCTIONS[function].sample
        path = (
            {"id": str(self.booking_id)}
            if function == "TicketsFunction" and self.booking_id
            else None
        )
        token = (
            self.token
            if function in ("BookingsFunction", "TicketsFunction", "PaymentsFunction")
            else None
        )
        return with_overrides(load_event(name), token=token, path_parameters=path)

    def bookings(self, count: int) -> list[dict[str, Any]]:
        from benchmarks.cpu import booking_events

        return booking_events([self.token] * count, self.event_id)

    def events_for(self, function: str, *, warm: bool) -> list[dict[str, Any]]:
        rest = self.bookings(WARM_BOOKINGS) if warm else []
        return [self.first(function), *rest]


def _variants(
    build_dir: Path, bare: dict[str, Path], samples: Samples, *, warm: bool
) -> list[tuple[str, Path, str, str, list[dict[str, Any]], str]]:
    """(name, build dir, function folder, module, events, layers) of every variant."""
    variants = [
        (
            name,
            folder,
            "BareFunction",
            "bare.app",
            [load_event("http_api_health")],
            "SharedLayer",
        )
        for name, folder in bare.items()
    ]
    for function, spec in FUNCTIONS.items():
        events = samples.events_for(
            function, warm=warm and function == "BookingsFunction"
        )
        variants.append(
            (function, build_dir, function, spec.module, events, spec.layers)
        )
    return variants


def _median_runs(
    python: str,
    variants: list[tuple[str, Path, str, str, list[dict[str, Any]], str]],
    *,
    runs: int,
    env: dict[str, str],
    runtime: Path,
    label: str,
    enter_quota: Callable[[], None] | None = None,
) -> dict[str, dict[str, float | None]]:
    walls: dict[str, list[float]] = {name: [] for name, *_ in variants}
    warms: dict[str, list[float]] = {name: [] for name, *_ in variants}
    for run in range(runs):
        say(f"cold starts, {label}, run {run + 1} of {runs}")
        for name, folder, function, module, events, layers in variants:
            start, _ = start_once(
                python,
                folder,
                function,
                module,
                events,
                {**env, "LAMBDA_LAYERS": layers},
                runtime,
                enter_quota,
            )
            walls[name].append(start.wall_ms)
            if start.warm_booking_ms is not None:
                warms[name].append(start.warm_booking_ms)
    return {
        name: {
            "cold_ms": statistics.median(walls[name]),
            "warm_booking_ms": statistics.median(warms[name]) if warms[name] else None,
        }
        for name in walls
    }


def import_costs(
    python: str, paths: list[str], module: str, *, runs: int = 3
) -> dict[str, float]:
    """Milliseconds each distribution's modules take to import when `module` is
    imported with `paths` first on the path (python -X importtime, self times
    summed by top-level name, median of `runs`), largest first; the standard
    library as one."""
    code = f"import sys; sys.path[:0] = {paths!r}; import {module}"
    per_run: list[dict[str, float]] = []
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(APP_ENV="production", **PAYMENTS_ENV)
    for _ in range(runs):
        result = subprocess.run(
            [python, "-I", "-S", "-B", "-X", "importtime", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = {}
        stdlib = set(sys.stdlib_module_names)
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = line.split(":", 1)[1].split("|")
            top = name.strip().split(".")[0]
            top = "(standard library)" if top in stdlib or top.startswith("_") else top
            totals[top] = totals.get(top, 0.0) + int(self_us) / 1000
        per_run.append(totals)
    names = {name for totals in per_run for name in totals}
    medians = {
        name: statistics.median(totals.get(name, 0.0) for totals in per_run)
        for name in names
    }
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def cost_per_million_bookings(memory_mb: int, booking_ms: float) -> float:
    billed_seconds = math.ceil(booking_ms) / 1000
    return (
        1_000_000 * billed_seconds * memory_mb / 1024 * PRICE_PER_GB_SECOND
        + PRICE_PER_MILLION_REQUESTS
    )


def chosen_memory(by_memory: dict[str, dict[str, Any]]) -> int | None:
    """The smallest size whose slowest API function starts within
    COLD_START_TOLERANCE of the slowest at a whole vCPU."""
    slowest = {
        int(mb): max(row["cold_ms"] for name, row in rows.items() if name in FUNCTIONS)
        for mb, rows in by_memory.items()
    }
    if str(ONE_VCPU_MB) not in by_memory:
        return None
    fastest = slowest[ONE_VCPU_MB]
    fitting = [mb for mb, ms in slowest.items() if ms <= COLD_START_TOLERANCE * fastest]
    return min(fitting)


def measure(build_dir: Path, *, runs: int, quota_runs: int) -> dict[str, Any]:
    """Every figure of the artefact, as a dict (results.json's `artefact`).
    Needs the benchmark environment (its database and Redis) and a build."""
    python = python312()
    if python is None:
        return {
            "skipped": "no python3.12 on this machine: the built functions need one"
        }
    if not (build_dir / "SharedLayer" / "python").is_dir():
        return {"skipped": f"nothing built in {build_dir}: run `make build`"}
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # As the template deploys them (LogLevel's default, metrics on), not as the
    # benchmark process runs (metrics off, errors only).
    env.update(
        APP_ENV="production",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="false",
        POWERTOOLS_LOG_LEVEL="INFO",
        **PAYMENTS_ENV,
    )
    samples = Samples()
    results: dict[str, Any] = {"runs": runs, "quota_runs": quota_runs}
    with (
        bare_functions_beside(build_dir, python) as bare,
        lambda_runtime_stand_in() as runtime,
    ):
        # one booking to hand TicketsFunction a ticket (and to warm the file cache)
        _, answers = start_once(
            python,
            build_dir,
            "BookingsFunction",
            "bookings.app",
            samples.bookings(1),
            env,
            runtime,
        )
        samples.booking_id = json.loads(answers[0]["body"])["id"]
        results["cold"] = _median_runs(
            python,
            _variants(build_dir, bare, samples, warm=False),
            runs=runs,
            env=env,
            runtime=runtime,
            label="whole machine",
        )
        traced = [
            variant
            for variant in _variants(build_dir, bare, samples, warm=False)
            if variant[0] != BARE_DEFAULT
        ]
        results["tracing_on"] = _median_runs(
            python,
            traced,
            runs=runs,
            env={**env, "POWERTOOLS_TRACE_DISABLED": "false"},
            runtime=runtime,
            label="tracing on",
        )
        by_memory: dict[str, Any] = {}
        for memory_mb in MEMORY_SIZES_MB:
            with cpu_quota(memory_mb) as enter:
                if enter is None:
                    results["quota_skipped"] = (
                        "this machine lets no cgroup with a CPU quota be made "
                        "(run as root on cgroup v1 or v2)"
                    )
                    break
                variants = [
                    variant
                    for variant in _variants(build_dir, bare, samples, warm=True)
                    if variant[0] != BARE_DEFAULT
                ]
                rows = _median_runs(
                    python,
                    variants,
                    runs=quota_runs,
                    env=env,
                    runtime=runtime,
                    label=f"{memory_mb} MB of CPU",
                    enter_quota=enter,
                )
            booking_ms = rows["BookingsFunction"]["warm_booking_ms"]
            assert booking_ms is not None  # BookingsFunction answered its bookings
            by_memory[str(memory_mb)] = {
                **rows,
                "cost_per_million_bookings": cost_per_million_bookings(
                    memory_mb, booking_ms
                ),
            }
        results["by_memory"] = by_memory
        results["import_costs"] = {
            function: import_costs(
                python,
                [str(build_dir / function)]
                + [
                    str(build_dir / layer / "python")
                    for layer in spec.layers.split(",")
                ],
                spec.module,
            )
            for function, spec in FUNCTIONS.items()
        }
        results["import_costs"][BARE] = import_costs(
            python,
            [
                str(bare[BARE] / "BareFunction"),
                str(bare[BARE] / "SharedLayer" / "python"),
            ],
            "bare.app",
        )
        results["chosen_memory_mb"] = (
            chosen_memory(
                {
                    mb: {k: v for k, v in rows.items() if k in FUNCTIONS}
                    for mb, rows in by_memory.items()
                }
            )
            if by_memory
            else None
        )
    results["sizes"] = sizes(build_dir)
    return results


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def sizes(build_dir: Path) -> dict[str, int]:
    return {
        name: size_of(build_dir / name)
        for name in ["SharedLayer", "TicketsLayer", "PaymentsLayer", *FUNCTIONS]
        if (build_dir / name).is_dir()
    }


def rows(results: dict[str, Any]) -> list[str]:
    """Markdown rows: | benchmark | measured | baseline | ratio | note |."""
    if "skipped" in results:
        return [
            f"| cold starts of the built functions | not measured | | | {results['skipped']} |"
        ]
    runs = results["runs"]
    out = []

    def compare(
        rows: dict[str, Any], function: str, bare: str, what: str, note: str
    ) -> None:
        measured, base = rows[function]["cold_ms"], rows[bare]["cold_ms"]
        out.append(
            f"| cold start of {function}{what} vs {bare} | {measured:.0f} ms | "
            f"{base:.0f} ms | {measured / base:.2f}x | {note} |"
        )

    for bare in (BARE, BARE_DEFAULT):
        for function in FUNCTIONS:
            compare(
                results["cold"],
                function,
                bare,
                " (import + first answer with the database)",
                f"median of {runs} fresh python3.12 processes, whole machine",
            )
    for function in FUNCTIONS:
        compare(
            results["tracing_on"],
            function,
            BARE,
            ", tracing on,",
            f"median of {runs}; the X-Ray SDK and botocore load",
        )
    for memory_mb, by in results.get("by_memory", {}).items():
        share = min(int(memory_mb) / ONE_VCPU_MB, 1.0)
        for function in FUNCTIONS:
            compare(
                by,
                function,
                BARE,
                f" at {memory_mb} MB ({share:.2f} vCPU)",
                f"median of {results['quota_runs']}, under a cgroup CPU quota",
            )
        out.append(
            f"| warm booking in BookingsFunction at {memory_mb} MB ({share:.2f} vCPU) "
            f"| {by['BookingsFunction']['warm_booking_ms']:.1f} ms | | | "
            f"median of {WARM_BOOKINGS} after each cold start; "
            f"${by['cost_per_million_bookings']:.2f} per million bookings |"
        )
    for function, costs in results.get("import_costs", {}).items():
        total = sum(costs.values())
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in list(costs.items())[:8])
        out.append(
            f"| importing {function if function in FUNCTIONS else 'the ' + function}'s "
            "handler, by package (ms, -X importtime self times) "
            f"| {total:.0f} ms | | | {top} |"
        )
    if "quota_skipped" in results:
        out.append(
            f"| cold starts under a CPU quota | not measured | | | {results['quota_skipped']} |"
        )
    for name, size in results["sizes"].items():
        if name == "SharedLayer":
            out.append(
                f"| SharedLayer, unzipped | {size / 1e6:.1f} MB | at most {MAX_LAYER_BYTES / 1e6:.0f} MB | "
                f"{size / MAX_LAYER_BYTES:.2f}x | pinned wheels, pruned, .pyc; no boto3/botocore (the runtime's) |"
            )
        elif name == "TicketsLayer":
            out.append(
                f"| TicketsLayer, unzipped | {size / 1e6:.1f} MB | | | cryptography and segno: the functions that sign or check tickets or admissions |"
            )
        elif name == "PaymentsLayer":
            out.append(
                f"| PaymentsLayer, unzipped | {size / 1e6:.1f} MB | | | stripe and requests, PaymentsFunction's alone |"
            )
        else:
            out.append(
                f"| {name}, unzipped | {size / 1e3:.0f} kB | | | its package and .pyc files |"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.artefact")
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quota-runs", type=int, default=5)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]
    from benchmarks.environment import benchmark_environment

    with benchmark_environment():
        try:
            results = measure(
                args.build_dir, runs=args.runs, quota_runs=args.quota_runs
            )
        except RuntimeError as exc:
            raise SystemExit(f"benchmarks: {exc}") from exc
    if "skipped" in results:
        raise SystemExit(f"benchmarks: {results['skipped']}")
    print("| benchmark | measured | baseline | ratio | note |")
    print("|---|---|---|---|---|")
    for row in rows(results):
        print(row)
    chosen = results.get("chosen_memory_mb")
    if chosen is not None:
        print(
            f"\nMemorySize by this run: {chosen} MB (the smallest whose slowest API "
            f"function starts within {COLD_START_TOLERANCE}x of a whole vCPU's)"
        )
    print(json.dumps(results, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
