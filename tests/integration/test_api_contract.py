"""The documented contract is the real one: schemathesis, with all its checks
but `positive_data_acceptance` (business rules such as sold out refuse valid
input), against `ticketmania serve`, as an anonymous caller, a user and an
admin, finds nothing: every status documented, every body (422s included)
matching its schema, every 405 saying Allow. (One narrow exception, explained
in schemathesis.toml beside this file.)"""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import make_admin, signup
from tests.integration.conftest import TEST_SECRET_KEY
from ticketmania.security import issue_access_token

# Enough to cover every operation in every phase, few enough for CI.
MAX_EXAMPLES = 10


def token_for(user_id: int, role: str) -> str:
    return issue_access_token(
        user_id=user_id,
        role=role,
        token_version=0,
        secret=TEST_SECRET_KEY,
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )


@pytest.mark.parametrize("caller", ["anonymous", "user", "admin"])
def test_schemathesis_finds_nothing(client, live_server, caller):
    # Passwords no example in the schema uses: an example password change must not
    # revoke the caller's own token halfway through the run.
    admin_id, _ = make_admin(client)
    user = signup(client, password="nothing any example says")
    headers = {
        "anonymous": [],
        "user": ["-H", f"Authorization: Bearer {token_for(user['id'], 'user')}"],
        "admin": ["-H", f"Authorization: Bearer {token_for(admin_id, 'admin')}"],
    }[caller]
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("run_schemathesis.py")),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{live_server}/openapi.json",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "7",
            "--no-color",
            "--workers",
            "2",
            *headers,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:]
