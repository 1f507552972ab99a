"""Feed the sample events of events/ to a function's handler, as API Gateway would."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"


@dataclass
class LambdaContext:
    function_name: str = "ticketmania-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ticketmania-test"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def with_overrides(
    event: dict[str, Any],
    *,
    token: str | None = None,
    body: Any = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A copy of the event with a real token, body or path parameters in place of the samples'."""
    event = copy.deepcopy(event)
    if token is not None:
        event["headers"]["authorization"] = f"Bearer {token}"
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if path_parameters:
        event["pathParameters"] = path_parameters
        path = event["routeKey"].split(" ", 1)[1]
        for name, value in path_parameters.items():
            path = path.replace("{" + name + "}", value)
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
    if headers:
        event["headers"].update(headers)
    return event


@dataclass
class LambdaResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def invoke(handler: Any, event: dict[str, Any]) -> LambdaResponse:
    result = handler(event, LambdaContext())
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return LambdaResponse(
        status=result["statusCode"], headers=headers, body=result.get("body") or ""
    )
