"""The packaging tier needs no services: function apps are imported to read
their routes, which only takes settings that validate (local mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def settings_that_validate() -> Iterator[None]:
    if "APP_ENV" in os.environ:  # the integration tier set up real ones already
        yield
        return
    from ticketmania.settings import get_settings

    os.environ["APP_ENV"] = "local"
    get_settings.cache_clear()
    yield
    del os.environ["APP_ENV"]
    get_settings.cache_clear()
