"""Each API function's cold start imports what it imports today, and nothing more.

A fresh interpreter with only the function's folder and the shared layer on the
path imports `<domain>.app`; the modules that appeared are compared with the
list checked in beside this file (import_lists/<domain>.txt): every first-party
module by name, third-party ones by their first two name parts (`sqlalchemy.orm`),
the standard library left out (it differs between Pythons). A module that
appears is a cost every cold start pays (BENCHMARKS.md measures them): load it
lazily where one rare route needs it (and name it in the function's
`warm_imports` for SnapStart), or, if it is meant, write the lists again:

    UPDATE_IMPORT_LISTS=1 .venv/bin/pytest tests/unit/test_import_lists.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTS = Path(__file__).parent / "import_lists"
API_FUNCTIONS = ("auth", "events", "bookings", "tickets", "payments")

PROBE = """
import json, sys
before = set(sys.modules)
import {domain}.app
first_party = ("ticketmania", "{domain}")
loaded = set()
for name in set(sys.modules) - before:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top.startswith("_"):
        continue  # the standard library, and compiled helpers named after their Python
    loaded.add(name if top in first_party else ".".join(name.split(".")[:2]))
print(json.dumps(sorted(loaded)))
"""


def loaded_modules(domain: str) -> list[str]:
    from ticketmania.tickets import new_key

    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions" / domain), str(ROOT / "layers" / "shared")]
        ),
        "APP_ENV": "production",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/never",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": "an-import-list-key-" + "x" * 40,
        "TICKET_SIGNING_KEYS": new_key(),
        # PaymentsFunction builds its provider at import: Stripe's, as in AWS.
        "STRIPE_SECRET_KEY": "sk_test_import_lists",
        "STRIPE_WEBHOOK_SECRET": "whsec_import_lists",
        "POWERTOOLS_METRICS_NAMESPACE": "TicketMania",
        "POWERTOOLS_SERVICE_NAME": f"{domain}-imports",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(domain=domain)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("domain", API_FUNCTIONS)
def test_a_cold_start_imports_no_more_than_its_list(domain):
    loaded = loaded_modules(domain)
    listed_file = LISTS / f"{domain}.txt"
    if os.environ.get("UPDATE_IMPORT_LISTS") == "1":
        LISTS.mkdir(exist_ok=True)
        listed_file.write_text("\n".join(loaded) + "\n")
    listed = listed_file.read_text().split()
    grew = sorted(set(loaded) - set(listed))
    shrank = sorted(set(listed) - set(loaded))
    assert not grew, (
        f"{domain}.app now imports {grew} at cold start: load it lazily, or write "
        "the lists again (this file's docstring)"
    )
    assert not shrank, (
        f"{domain}.app no longer imports {shrank}: write the lists again so that "
        "they cannot grow back (this file's docstring)"
    )
