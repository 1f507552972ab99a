"""Lambda SnapStart runtime hooks: what a function does before its initialised
container is snapshotted, and after a copy of it is restored.

With SnapStart (template.yaml's `SnapStart` parameter), Lambda runs a
function's initialisation once when a version is published, snapshots the
container, and starts every later container from a copy of that snapshot. So:

- before the snapshot, everything the first request would otherwise import or
  build is imported and built, for every container to start with it: the app,
  its routes, their models and the request path through Mangum, FastAPI and
  the error handlers (one request to a path no function declares), and the
  modules a function loads lazily (`warm_imports`); then every database and
  Redis connection is closed, as none may be shared by the copies;
- after a restore, the connection pools start empty (each copy connects on its
  own), the Redis circuit breaker forgets what it saw, and `random` is reseeded
  (each copy would otherwise draw the same numbers; `secrets` and `uuid4` read
  the OS, and need nothing).

The hooks are registered with `snapshot_restore_py`, which Lambda's python3.12
runtime provides (and the tests install); anywhere else registering is a no-op.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable
from typing import Any

# A path no function declares: the request runs the whole stack and answers 404.
_WARM_UP_PATH = "/__snapstart_warm_up__"


def register(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    warm_imports: Iterable[str] = (),
) -> bool:
    """Register the hooks for the function `handler` serves; False where
    SnapStart's runtime module is not to be had (nothing to do then)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    modules = tuple(warm_imports)
    register_before_snapshot(lambda: before_snapshot(handler, modules))
    register_after_restore(after_restore)
    return True


def before_snapshot(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], modules: tuple[str, ...]
) -> None:
    for module in modules:
        importlib.import_module(module)
    handler(_warm_up_event(), _WarmUpContext())
    close_connections()


def after_restore() -> None:
    close_connections()
    random.seed()
    from ticketmania.cache import get_cache

    get_cache().forget_failures()


def close_connections() -> None:
    """Close every pooled database and Redis connection this container holds;
    the next use opens new ones."""
    from ticketmania.cache import get_cache
    from ticketmania.db.engine import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    if get_cache.cache_info().currsize:
        client = get_cache().client
        if client is not None:
            client.connection_pool.disconnect()


class _WarmUpContext:
    """The parts of Lambda's context the handler reads."""

    function_name = "snapstart-warm-up"
    memory_limit_in_mb = 0
    invoked_function_arn = "arn:aws:lambda:::function:snapstart-warm-up"
    aws_request_id = "snapstart-warm-up"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _warm_up_event() -> dict[str, Any]:
    """An HTTP API (payload 2.0) request, as API Gateway would send it."""
    return {
        "version": "2.0",
        "routeKey": f"GET {_WARM_UP_PATH}",
        "rawPath": _WARM_UP_PATH,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "localhost"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": _WARM_UP_PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "snapstart",
            },
            "requestId": "snapstart-warm-up",
            "routeKey": f"GET {_WARM_UP_PATH}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
