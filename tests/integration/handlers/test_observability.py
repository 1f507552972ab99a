"""Each function logs and counts under the service name template.yaml gives it,
and counts its cold start once: its handler invoked in a fresh process, as
Lambda would, with the environment the template sets."""

import json
import os
import subprocess
import sys

import pytest

from localdev.template import read_functions
from tests.conftest import ROOT
from tests.lambda_events import EVENTS

HTTP_FUNCTIONS = [
    spec for spec in read_functions(ROOT / "template.yaml") if spec.routes
]

_INVOKE_TWICE = """
import json, sys
from tests.lambda_events import LambdaContext
from {module} import handler
from ticketmania.observability import logger
event = json.loads(open(sys.argv[1]).read())
handler(event, LambdaContext())
handler(event, LambdaContext())
logger.info("probe: the logger the function logs with")
"""


def sample_for(spec):
    route = spec.routes[0]
    for path in sorted(EVENTS.glob("http_api_*.json")):
        if json.loads(path.read_text())["routeKey"] == f"{route.method} {route.path}":
            return path
    raise AssertionError(f"no sample event for {route}")


def invoke_in_a_fresh_process(spec):
    environment = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": spec.environment["POWERTOOLS_SERVICE_NAME"],
        "POWERTOOLS_METRICS_NAMESPACE": spec.environment[
            "POWERTOOLS_METRICS_NAMESPACE"
        ],
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "layers/shared"), str(spec.code_uri), str(ROOT)]
        ),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _INVOKE_TWICE.format(module=spec.module),
            sample_for(spec),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [
        json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")
    ]


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.name)
def test_logs_and_metrics_carry_the_template_service_name(spec):
    service = spec.environment["POWERTOOLS_SERVICE_NAME"]
    namespace = spec.environment["POWERTOOLS_METRICS_NAMESPACE"]
    lines = invoke_in_a_fresh_process(spec)

    metrics = [line for line in lines if "_aws" in line]
    cold_starts = [
        line
        for line in metrics
        if any(
            metric["Name"] == "ColdStart"
            for block in line["_aws"]["CloudWatchMetrics"]
            for metric in block["Metrics"]
        )
    ]
    assert len(cold_starts) == 1  # two invocations, one cold start
    assert cold_starts[0]["service"] == service
    assert cold_starts[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace

    logs = [line for line in lines if "_aws" not in line]
    assert logs and all(line["service"] == service for line in logs)
