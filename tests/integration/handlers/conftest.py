"""Each handler test runs its function as a Lambda container would: with the
environment template.yaml gives the function (one pooled connection and no
overflow, its timeouts, APP_ENV production), the caches built afresh for it,
and its database through a transaction pooler (PgBouncer in transaction mode
with two server connections), as a surge deploys it.

A test module names its function in FUNCTION; the test session's own
settings come back after each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import (
    TEST_SECRET_KEY,
    TEST_TICKET_KEY,
    reset_cached_clients,
)
from tests.lambda_container import container_environment


@pytest.fixture(autouse=True)
def lambda_container(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pooled_database_url: str,
) -> Iterator[dict[str, str]]:
    function_name = getattr(request.module, "FUNCTION", None)
    if function_name is None:
        yield {}
        return
    patch = pytest.MonkeyPatch()
    environment = container_environment(
        function_name,
        secret_key=TEST_SECRET_KEY,
        ticket_key=TEST_TICKET_KEY,
        data_dir=tmp_path_factory.mktemp("container"),
        database_url=pooled_database_url,
    )
    for name, value in environment.items():
        patch.setenv(name, value)
    patch.delenv("DB_POOL_SIZE", raising=False)
    reset_cached_clients()
    try:
        yield environment
    finally:
        reset_cached_clients()
        patch.undo()
