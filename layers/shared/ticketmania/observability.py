"""Logger, tracer and metrics, built once per container, and the Lambda entry decorator."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

# POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_TRACE_DISABLED
# (set per function in template.yaml) override these defaults.


def is_tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {
        "1",
        "true",
        "yes",
    }
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ and not disabled


logger = Logger(service="ticketmania")
# Built only where it will trace: the X-Ray SDK it imports costs ~0.2 s of every
# cold start (BENCHMARKS.md), even when Powertools then disables it.
tracer: Tracer | None = Tracer(service="ticketmania") if is_tracing_enabled() else None
metrics = Metrics(namespace="TicketMania", service="ticketmania")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


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
    asyncio.set_event_loop(asyncio.new_event_loop())


def lambda_entry(handler: LambdaHandler) -> LambdaHandler:
    """Wrap a function's handler with request-id logging, tracing and metrics."""

    @functools.wraps(handler)
    def with_event_loop(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _ensure_event_loop()
        return handler(event, context)

    traced = (
        tracer.capture_lambda_handler(with_event_loop) if tracer else with_event_loop
    )
    measured = metrics.log_metrics(traced)
    return logger.inject_lambda_context(  # type: ignore[no-any-return]
        measured, correlation_id_path=correlation_paths.API_GATEWAY_HTTP
    )
