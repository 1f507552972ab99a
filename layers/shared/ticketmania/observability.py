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
import weakref
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

# Log keys that belong to one request; the Lambda entry clears them per invocation.
REQUEST_KEYS = ("user_id", "event_id", "booking_id")


def is_tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {
        "1",
        "true",
        "yes",
    }
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ and not disabled


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
    # Mangum drives the app with asyncio.get_event_loop(), which has no loop to
    # give in a thread other than the main one (tests call handlers from threads).
    try:
        if not asyncio.get_event_loop_policy().get_event_loop().is_closed():
            return
    except RuntimeError:
        pass
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Closed with the thread it was made for, not left to the garbage collector.
    weakref.finalize(threading.current_thread(), loop.close)


def lambda_entry(handler: LambdaHandler) -> LambdaHandler:
    """Wrap a function's handler with request-id logging, tracing and metrics
    (the cold start counted once per container)."""

    @functools.wraps(handler)
    def with_event_loop(
        event: dict[str, Any], context: LambdaContext
    ) -> dict[str, Any]:
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
