"""AdminJobsFunction's entry point. Handler: admin.jobs.handler.

Each EventBridge schedule in template.yaml invokes it with a constant input:
`{"job": "<name>"}`, plus `"repair": true` for reconcile-seats, `"date":
"YYYY-MM-DD"` for sales-report, or `"sweep_seconds": 50` for expire-holds. The jobs themselves live in the
layer (ticketmania/jobs/), which `ticketmania job NAME` runs locally too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ticketmania.jobs import JobInput, run_job
from ticketmania.observability import lambda_entry, logger
from ticketmania.settings import get_settings

get_settings()  # a bad configuration fails the cold start, not the first run


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    name = str(event.get("job", ""))
    given = JobInput(
        repair=event.get("repair") is True,
        day=date.fromisoformat(event["date"]) if event.get("date") else None,
        sweep_seconds=float(event.get("sweep_seconds", 0)),
    )
    logger.append_keys(job=name)
    outcome = run_job(name, given)
    logger.info("job done", extra={"outcome": outcome})
    return {"job": name, **outcome}
