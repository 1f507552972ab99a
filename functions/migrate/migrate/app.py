"""MigrateFunction's entry point, a CloudFormation custom resource. Handler: migrate.app.handler.

CloudFormation calls it with a Create, Update or Delete request and waits for
an answer at the request's ResponseURL. Create and Update apply the Alembic
migrations (idempotent; two deploys at once take turns on the migration
advisory lock); Delete leaves the data alone. Whatever happens, an answer is
sent: without one, the stack would hang for an hour. Under `sam local` it is
logged instead: the samples' requests have no CloudFormation behind them.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ticketmania.observability import lambda_entry, logger
from ticketmania.settings import get_settings

# One physical resource for the life of the stack: an Update never replaces it,
# so CloudFormation never sends a Delete for an old one after a deploy.
PHYSICAL_RESOURCE_ID = "ticketmania-database-migrations"


def apply_migrations() -> str:
    """Migrate to the latest revision; returns it."""
    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import current_revision, upgrade_to_head

    upgrade_to_head(get_engine())
    return current_revision(get_engine())


def answer(
    event: dict[str, Any], *, status: str, reason: str, data: dict[str, str]
) -> None:
    document = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": PHYSICAL_RESOURCE_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }
    if get_settings().is_sam_local:
        # A sample request (events/cfn_migrate_*.json) run by `sam local invoke`:
        # no CloudFormation waits, and nothing may leave the machine.
        logger.info("answer not sent under sam local", extra={"answer": document})
        return
    body = json.dumps(document).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's presigned https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request_type = event.get("RequestType")
    logger.info("migration request", extra={"request_type": request_type})
    try:
        if request_type in ("Create", "Update"):
            revision = apply_migrations()
            status, reason, data = (
                "SUCCESS",
                f"migrated to {revision}",
                {"Revision": revision},
            )
        elif request_type == "Delete":
            status, reason, data = (
                "SUCCESS",
                "the data stays: nothing to do on delete",
                {},
            )
        else:
            status, reason, data = (
                "FAILED",
                f"unknown request type {request_type!r}",
                {},
            )
    except Exception as exc:  # every failure must still answer CloudFormation
        # The class only: a driver's message can quote values.
        logger.exception("migration failed")
        status, reason, data = "FAILED", f"migration failed: {type(exc).__name__}", {}
    answer(event, status=status, reason=reason, data=data)
    return {"Status": status, "Reason": reason}
