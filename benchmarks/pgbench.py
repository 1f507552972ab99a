"""pgbench runs: a script, N clients, T seconds; TPS and per-transaction latencies.

Every script runs with `-M prepared` unless told otherwise (the functions send
unnamed statements, `-M extended`; the comparison of the two is in
benchmarks/surge.py) and per-transaction logs, from which p50 and p99 are read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from benchmarks.environment import Services
from benchmarks.timing import percentile
from ticketmania.db import outbox
from ticketmania.db.engine import get_engine

# Users per pgbench client: each client books for users of its own range, so no
# two clients ever book for the same user at once (the user's cap row is theirs).
USERS_PER_CLIENT = 100

_PICK_USER = (
    "\\set user_id :umin + :client_id * :upc + random(0, :upc - 1)\n"
    "\\set event_id random(:emin, :emax)\n"
)


def booking_statement_script(statement: str) -> str:
    """The booking path's own statement as a pgbench script: its `:name`
    placeholders become pgbench variables (set per transaction or by -D); the
    clock is now(), no Idempotency-Key is sent, and it books (holds nothing)."""
    fixed = {
        "now": "now()",
        "key": "NULL",
        "request_hash": "NULL",
        "hold_seconds": "0",
        "hold": "false",
        "topic": f"'{outbox.BOOKING_CONFIRMED}'",
        # The event's default ticket type, as POST /bookings sells.
        "ticket_type_id": "NULL",
        # No waiting room on the benchmark's events: no admission to use.
        "admission_jti": "NULL",
        "admission_position": "NULL",
    }
    body = statement
    for name, value in fixed.items():
        body = re.sub(rf"(?<![:\w]):{name}\b", value, body)
    body = "\n".join(line for line in body.splitlines() if line.strip())
    left = set(re.findall(r"(?<![:\w]):(\w+)", body))
    expected = {"user_id", "event_id", "seats", "cap", "token_version"}
    if left != expected:
        raise RuntimeError(f"unexpected placeholders in the booking statement: {left}")
    return _PICK_USER + body + ";\n"


# The old design's limit: one transaction that decrements ONE row and writes the booking.
ONE_ROW_SCRIPT = (
    _PICK_USER
    + """BEGIN;
UPDATE seat_shards SET available = available - 1
  WHERE event_id = :event_id AND shard = 0 AND available >= 1;
INSERT INTO bookings (user_id, event_id, seats_booked, status)
  VALUES (:user_id, :event_id, 1, 'confirmed');
COMMIT;
"""
)


@dataclass(frozen=True)
class PgbenchRun:
    clients: int
    seconds: float
    tps: float
    transactions: int
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, float]:
        return {
            "clients": self.clients,
            "tps": self.tps,
            "transactions": self.transactions,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        }


def ensure_pgbench() -> str:
    binary = shutil.which("pgbench")
    if binary is None:
        raise RuntimeError(
            "pgbench is not installed: apt-get install postgresql-client (or postgresql-contrib)"
        )
    return binary


def max_clients() -> int:
    """How many pgbench clients the server can take now, leaving a margin for the
    connections the run itself holds."""
    with get_engine().connect() as connection:
        limit, reserved, used = connection.execute(
            text(
                "SELECT current_setting('max_connections')::int, "
                "current_setting('superuser_reserved_connections')::int, "
                "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )
        ).one()
    return int(limit) - int(reserved) - int(used) - 4


def run(
    services: Services,
    script: str,
    *,
    clients: int,
    seconds: float,
    user_min: int,
    event_min: int,
    event_max: int,
    cap: int = 100_000,
    protocol: str = "prepared",
    seats: int = 1,
) -> PgbenchRun:
    """`protocol` is pgbench's -M: `prepared` (a named statement, parsed once
    per connection) or `extended` (an unnamed one, parsed and planned on each
    call, in one round trip: what the functions send)."""
    defines = {
        "umin": user_min,
        "upc": USERS_PER_CLIENT,
        "emin": event_min,
        "emax": event_max,
        "seats": seats,
        "cap": cap,
        "token_version": 0,
    }
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as folder:
        path = Path(folder) / "script.sql"
        path.write_text(script)
        command = [
            ensure_pgbench(),
            "-n",
            "-M",
            protocol,
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(max(1, round(seconds))),
            "-l",
            "--log-prefix",
            str(Path(folder) / "tx"),
            "-f",
            str(path),
            *(f"-D{name}={value}" for name, value in defines.items()),
            *services.pg_args(),
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=services.pg_env(),
            cwd=folder,
            check=False,
        )
        if done.returncode != 0 or "aborted" in done.stdout + done.stderr:
            raise RuntimeError(
                f"pgbench failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}"
            )
        tps_match = re.search(
            r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout
        )
        count_match = re.search(
            r"number of transactions actually processed: (\d+)", done.stdout
        )
        if tps_match is None or count_match is None:
            raise RuntimeError(f"pgbench said nothing readable: {done.stdout[-800:]}")
        latencies = []
        for log in Path(folder).glob("tx.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000)
    if not latencies:
        raise RuntimeError("pgbench logged no transactions")
    return PgbenchRun(
        clients=clients,
        seconds=seconds,
        tps=float(tps_match.group(1)),
        transactions=int(count_match.group(1)),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
    )
