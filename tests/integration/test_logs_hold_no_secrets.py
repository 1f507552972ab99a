"""No token, password, password hash or signing key ever reaches a log line or
an error: a full run of every function at DEBUG (tests/integration/full_run.py),
its every line read."""

import json
import os
import subprocess
import sys

from sqlalchemy import text

from tests.conftest import ROOT
from ticketmania.db.engine import get_engine


def test_a_full_run_logs_no_secret():
    environment = {
        **os.environ,
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "PYTHONPATH": os.pathsep.join(
            [
                str(ROOT),
                str(ROOT / "layers/shared"),
                *(str(folder) for folder in sorted((ROOT / "functions").iterdir())),
            ]
        ),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.full_run"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *logged, last = result.stdout.splitlines()
    assert last.startswith("SECRETS ")
    handled = json.loads(last.removeprefix("SECRETS "))
    with get_engine().connect() as connection:
        hashes = list(connection.scalars(text("SELECT password_hash FROM users")))
    everything = "\n".join(logged) + result.stderr
    # The run did log: a cancellation, the cache's outage, the database's.
    for line in ("event cancelled", "cache unavailable", "database error mapped"):
        assert line in everything
    for kind, values in {**handled, "hashes": hashes}.items():
        assert values, kind
        for value in values:
            assert value not in everything, f"a {kind[:-1]} reached the logs"
    assert "$argon2" not in everything
    assert "Bearer " not in everything
