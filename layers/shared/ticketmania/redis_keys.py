"""Every Redis key this service writes, under its deployment's prefix.

Two deployments (two stages, two local servers) may share one Redis: each
key starts with REDIS_KEY_PREFIX, so neither reads the other's listings,
markers, limits or token versions.
"""

from __future__ import annotations

from ticketmania.settings import get_settings


def redis_key(name: str) -> str:
    """`name` under this deployment's prefix."""
    prefix = get_settings().redis_key_prefix
    return f"{prefix}:{name}" if prefix else name
