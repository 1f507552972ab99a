"""The README's walk-through (scripts/walkthrough.py) against `ticketmania serve`,
connected to Postgres directly and through a transaction pooler: the same
script runs against `sam local start-api` or a deployed stage."""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.factories import DEFAULT_PASSWORD, make_admin
from tests.integration.conftest import serving


@pytest.fixture(scope="module", params=["direct", "through a transaction pooler"])
def walkthrough_server(request: pytest.FixtureRequest) -> Iterator[str]:
    database = {}
    if request.param != "direct":
        database["DATABASE_URL"] = request.getfixturevalue("pooled_database_url")
    with serving(**database) as base_url:
        yield base_url


def test_the_walkthrough_passes_against_the_local_server(client, walkthrough_server):
    from ticketmania.db import users
    from ticketmania.db.engine import open_session

    admin_id, _ = make_admin(client)
    with open_session() as session:
        email = users.get_user(session, admin_id).email
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "walkthrough.py"),
            "--base-url",
            walkthrough_server,
            "--admin-email",
            email,
            "--admin-password",
            DEFAULT_PASSWORD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "walk-through done" in result.stdout
