"""Cold starts and sizes of what `sam build` made, against a bare function built the same way.

    python -m benchmarks.artefact [--build-dir .aws-sam/build] [--runs 7]

(`make coldstart` builds first, then runs this.) For every API function and for
a bare FastAPI + Mangum function with one route, compiled the same way and
run on the same layer, it starts fresh `python3.12 -I -S -B` processes the
way Lambda does (scripts/invoke_built_function.py: only the function's folder
and the layer's python/ on the path, no bytecode written) that import the
handler and answer one event that needs the database. Wall time of the whole
process, median of several, the variants interleaved run by run; then the
layer's and each function's size. Prints Markdown table rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "scripts" / "invoke_built_function.py"
MAX_LAYER_BYTES = 45_000_000

BARE_APP = """
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
"""

# function -> (handler module, the sample its first request answers)
FUNCTIONS = {
    "AuthFunction": ("auth.app", "http_api_health"),
    "EventsFunction": ("events.app", "http_api_events_list"),
    "BookingsFunction": ("bookings.app", "http_api_bookings_my"),
}


def say(message: str) -> None:
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


def python312() -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "python312-path.sh")],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit("benchmarks: no python3.12 here; the cold start needs one")
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
def bare_function_beside(build_dir: Path, python: str) -> Iterator[Path]:
    """A build folder holding the real layer and a bare function, compiled alike."""
    with tempfile.TemporaryDirectory(prefix="ticketmania-bare-") as scratch:
        folder = Path(scratch)
        (folder / "SharedLayer").symlink_to(build_dir.resolve() / "SharedLayer")
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
                str(folder / "BareFunction"),
            ],
            check=True,
        )
        yield folder


def cold_start_ms(
    python: str,
    build_dir: Path,
    function: str,
    module: str,
    event: dict[str, object],
    env: dict[str, str],
    runtime: Path,
) -> float:
    """Wall time of one fresh process: start, import, first answer (a 2xx or 4xx)."""
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
        input=json.dumps([event]),
        env={
            **env,
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "POWERTOOLS_SERVICE_NAME": function,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(
            f"benchmarks: {function} failed to start:\n{result.stderr[-2000:]}"
        )
    status = json.loads(result.stdout)["answers"][0]["statusCode"]
    if status >= 500:
        raise SystemExit(f"benchmarks: {function} answered {status}")
    return elapsed


def user_token() -> str:
    """A user in the benchmark's database, and a token for them."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from ticketmania.db.engine import get_engine
    from ticketmania.security import issue_access_token

    with get_engine().begin() as connection:
        user_id = connection.scalar(
            text(
                "INSERT INTO users (name, email, password_hash) "
                "VALUES ('Cold', 'cold-start@example.com', 'x') RETURNING id"
            )
        )
    return issue_access_token(
        user_id=int(user_id),
        role="user",
        token_version=0,
        secret=os.environ["SECRET_KEY"],
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def sample(name: str, token: str | None = None) -> dict[str, object]:
    event: dict[str, object] = json.loads(
        (ROOT / "events" / f"{name}.json").read_text()
    )
    if token is not None:
        headers = dict(event["headers"])  # type: ignore[call-overload]
        headers["authorization"] = f"Bearer {token}"
        event["headers"] = headers
    return event


def measure(
    build_dir: Path, *, runs: int, env: dict[str, str], token: str, tracing: bool
) -> list[tuple[str, float, float]]:
    """(function, median ms, bare median ms) for every function."""
    python = python312()
    env = {**env, "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true"}
    samples: dict[str, list[float]] = {name: [] for name in [*FUNCTIONS, "bare"]}
    with (
        bare_function_beside(build_dir, python) as bare_dir,
        lambda_runtime_stand_in() as runtime,
    ):
        for run in range(runs):
            say(
                f"cold starts, run {run + 1} of {runs}{' (tracing on)' if tracing else ''}"
            )
            samples["bare"].append(
                cold_start_ms(
                    python,
                    bare_dir,
                    "BareFunction",
                    "bare.app",
                    sample("http_api_health"),
                    env,
                    runtime,
                )
            )
            for function, (module, event_name) in FUNCTIONS.items():
                event = sample(event_name, token if "bookings" in event_name else None)
                samples[function].append(
                    cold_start_ms(
                        python, build_dir, function, module, event, env, runtime
                    )
                )
    bare = statistics.median(samples["bare"])
    return [(name, statistics.median(samples[name]), bare) for name in FUNCTIONS]


def size_rows(build_dir: Path) -> list[str]:
    layer = size_of(build_dir / "SharedLayer")
    rows = [
        f"| SharedLayer, unzipped | {layer / 1e6:.1f} MB | at most {MAX_LAYER_BYTES / 1e6:.0f} MB | "
        f"{layer / MAX_LAYER_BYTES:.2f}x | pinned wheels, pruned, .pyc; no boto3/botocore (the runtime's) |"
    ]
    for function in FUNCTIONS:
        rows.append(
            f"| {function}, unzipped | {size_of(build_dir / function) / 1e3:.0f} kB | | | its package and .pyc files |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.artefact")
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not (args.build_dir / "SharedLayer" / "python").is_dir():
        raise SystemExit(
            f"benchmarks: nothing built in {args.build_dir}: run `make build`"
        )
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]
    from benchmarks.environment import benchmark_environment

    print("| benchmark | measured | baseline | ratio | note |")
    print("|---|---|---|---|---|")
    with benchmark_environment():
        token = user_token()
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["APP_ENV"] = "production"
        for tracing in (False, True):
            for name, measured, bare in measure(
                args.build_dir, runs=args.runs, env=env, token=token, tracing=tracing
            ):
                print(
                    f"| cold start of {name} (import + first answer with the database"
                    f"{', tracing on' if tracing else ''}) vs a bare FastAPI + Mangum function "
                    f"| {measured:.0f} ms | {bare:.0f} ms | {measured / bare:.2f}x | "
                    f"median of {args.runs} fresh python3.12 processes |",
                    flush=True,
                )
    for row in size_rows(args.build_dir):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
