"""SnapStart's lifecycle played in a fresh process per API function: import the
handler, answer a request (which opens database and Redis connections, as an
initialisation that touched them would), run the before-snapshot hooks, find
no socket to Postgres or Redis left open, run the after-restore hooks, and
answer the request again, correctly."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from localdev.template import read_functions
from tests.conftest import ROOT
from tests.factories import create_event, make_admin, user_token
from tests.lambda_events import load_event, with_overrides

API_FUNCTIONS = [spec for spec in read_functions(ROOT / "template.yaml") if spec.routes]

_LIFECYCLE = """
import json, random, sys
import psutil
from snapshot_restore_py import get_after_restore, get_before_snapshot
from tests.lambda_events import LambdaContext
from {module} import handler

ports = {{int(port) for port in sys.argv[2].split(",")}}

def open_sockets():
    return [c for c in psutil.Process().net_connections(kind="inet")
            if c.raddr and c.raddr.port in ports]

event = json.loads(open(sys.argv[1]).read())
first = handler(event, LambdaContext())
before = len(open_sockets())
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
at_snapshot = len(open_sockets())
state = random.getstate()
for hook, args, kwargs in get_after_restore():
    hook(*args, **kwargs)
second = handler(event, LambdaContext())
print(json.dumps({{
    "hooks": [len(get_before_snapshot()), len(get_after_restore())],
    "open_before": before,
    "open_at_snapshot": at_snapshot,
    "reseeded": random.getstate() != state,
    "first": [first["statusCode"], first.get("body")],
    "second": [second["statusCode"], second.get("body")],
}}))
"""


def _paid_for(client, admin, token, event_id):
    """A priced order of `token`'s, with its payment started: an order id."""
    from tests.factories import auth_header, create_ticket_type, order

    kind = create_ticket_type(client, admin, event_id, name="Paid", price_minor=900)
    order_id = order(client, token, event_id, [(kind["id"], 1)]).json()["id"]
    started = client.post(
        f"/orders/{order_id}/payments",
        json={"provider": "stripe"},
        headers=auth_header(token),
    )
    assert started.status_code == 201, started.text
    return order_id


@pytest.fixture
def requests(client, tmp_path):
    """A request each API function answers from the database."""
    _, admin = make_admin(client)
    event = create_event(client, admin)
    _, token = user_token(client)
    samples = {
        "AuthFunction": load_event("http_api_health"),
        "EventsFunction": with_overrides(
            load_event("http_api_events_get"), path_parameters={"id": str(event["id"])}
        ),
        "BookingsFunction": with_overrides(
            load_event("http_api_bookings_my"), token=token
        ),
        "TicketsFunction": with_overrides(
            load_event("http_api_tickets_event_checkins"),
            token=admin,
            path_parameters={"id": str(event["id"])},
        ),
        "PaymentsFunction": with_overrides(
            load_event("http_api_payments_get"),
            token=token,
            path_parameters={"id": str(_paid_for(client, admin, token, event["id"]))},
        ),
    }
    paths = {}
    for name, sample in samples.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(sample))
    return paths


def service_ports():
    database = make_url(os.environ["DATABASE_URL"]).port or 5432
    redis = make_url(os.environ["REDIS_URL"]).port or 6379
    return f"{database},{redis}"


@pytest.mark.parametrize("spec", API_FUNCTIONS, ids=lambda spec: spec.name)
def test_the_snapstart_lifecycle_closes_every_connection_and_serves_after(
    spec, requests
):
    environment = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": spec.environment["POWERTOOLS_SERVICE_NAME"],
        "POWERTOOLS_METRICS_NAMESPACE": spec.environment[
            "POWERTOOLS_METRICS_NAMESPACE"
        ],
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "layers/shared"), str(spec.code_uri), str(ROOT)]
        ),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _LIFECYCLE.format(module=spec.module),
            str(requests[spec.name]),
            service_ports(),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["hooks"] == [1, 1]
    assert outcome["open_before"] > 0  # the first request connected
    assert outcome["open_at_snapshot"] == 0
    assert outcome["reseeded"]
    assert outcome["first"][0] == outcome["second"][0] == 200, outcome
    assert outcome["first"][1] == outcome["second"][1]
