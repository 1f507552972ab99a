"""Shared by every tier: nothing here starts a service or touches a database.

The tiers: unit/ (pure, no services, no network), integration/ (a real
Postgres and Redis, set up by integration/conftest.py; handlers/ feeds the
Lambda handlers events/*.json), packaging/ (the template, the docs, code
quality; the slow SAM CLI tests are marked `packaging`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    # Powertools reads its identity from the environment when the layer's
    # observability module loads, which collection may already do: set it first,
    # as Lambda does before it imports a handler.
    for name, value in {
        "POWERTOOLS_SERVICE_NAME": "ticketmania-test",
        "POWERTOOLS_METRICS_NAMESPACE": "TicketManiaTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        os.environ.setdefault(name, value)


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    # Long runs of the randomised tests only when a marker expression names them.
    if "long" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a long run: ask for it with -m long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def built_artefact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `sam build` makes, built once for the session's packaging tests."""
    from tests.sam import sam_build

    return sam_build(tmp_path_factory.mktemp("sam") / "build")
