"""Logger, tracer and metrics, built once per container, and the Lambda entry decorator.

Their identity comes from the environment, as template.yaml sets it per
function: POWERTOOLS_SERVICE_NAME names the service in logs, traces and metric
dimensions, POWERTOOLS_METRICS_NAMESPACE the metrics' namespace,
POWERTOOLS_LOG_LEVEL and POWERTOOLS_TRACE_DISABLED the rest. Nothing here
passes them explicitly: Powertools prefers an explicit argument to the
environment.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ticketmania.settings import ConfigurationError

# Log keys that belong to one request; the Lambda entry clears them per invocation.
REQUEST_KEYS = ("user_id", "event_id", "booking_id")

# Powertools' identity outside Lambda (the `ticketmania` command sets the same
# before it imports anything of the layer).
LOCAL_IDENTITY = {
    "POWERTOOLS_SERVICE_NAME": "ticketmania",
    "POWERTOOLS_METRICS_NAMESPACE": "TicketMania",
}


def require_identity() -> None:
    """Make sure Powertools has a service name and a namespace before the Logger
    and Metrics below read them, once and for good.

    Without a namespace, the 100th value of a metric flushes itself and raises,
    after the work it counted was committed. In Lambda, template.yaml sets both
    for every function: a container without them fails its cold start with one
    line, before it serves. Elsewhere (a script, a test) the local names are used.
    """
    missing = [name for name in LOCAL_IDENTITY if not os.environ.get(name)]
    if not missing:
        return
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set: template.yaml sets them for "
            "every function (Globals and each function's Environment)"
        )
    for name in missing:
        os.environ[name] = LOCAL_IDENTITY[name]


def is_tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {
        "1",
        "true",
        "yes",
    }
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ and not disabled


require_identity()
logger = Logger()
# Built only where it will trace: the X-Ray SDK it imports costs a noticeable
# part of every cold start (BENCHMARKS.md), even when Powertools then disables it.
tracer: Tracer | None = Tracer() if is_tracing_enabled() else None
metrics = Metrics()

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def count(name: str, value: float = 1) -> None:
    """Add to an EMF metric; flushed by the Lambda entry decorator."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _ensure_event_loop() -> None:
    # Mangum drives the app with asyncio.get_event_loop(): the main thread's
    # loop, which Lambda's one invocation at a time reuses.
    try:
        if not asyncio.get_event_loop_policy().get_event_loop().is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def _run_on_own_loop(
    handler: LambdaHandler, event: dict[str, Any], context: LambdaContext
) -> dict[str, Any]:
    """An invocation from a thread other than the main one (tests call handlers
    from threads) runs on a loop of its own, closed when it returns: a loop left
    to the garbage collector leaks its self-pipe sockets until then."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return handler(event, context)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def lambda_entry(handler: LambdaHandler) -> LambdaHandler:
    """Wrap a function's handler with request-id logging, tracing and metrics
    (the cold start counted once per container)."""

    @functools.wraps(handler)
    def with_event_loop(
        event: dict[str, Any], context: LambdaContext
    ) -> dict[str, Any]:
        if threading.current_thread() is not threading.main_thread():
            return _run_on_own_loop(handler, event, context)
        _ensure_event_loop()
        return handler(event, context)

    traced = (
        tracer.capture_lambda_handler(with_event_loop) if tracer else with_event_loop
    )
    measured = metrics.log_metrics(traced, capture_cold_start_metric=True)
    return logger.inject_lambda_context(
        measured,
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
        clear_state=True,
        # Never the incoming event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it
        # carries the caller's bearer token and, at login, the password.
        log_event=False,
    )
