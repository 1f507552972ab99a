"""template.yaml, the function apps and events/ agree; SAM accepts and builds the template."""

import json
from pathlib import Path

import pytest

from localdev.gateway import import_function_app
from localdev.template import read_functions
from tests.sam import run_sam

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = read_functions(ROOT / "template.yaml")
HTTP_FUNCTIONS = [spec for spec in FUNCTIONS if spec.routes]


def app_routes(spec):
    schema = import_function_app(spec).openapi()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.name)
def test_template_routes_are_exactly_the_app_routes(spec):
    declared = {(route.method, route.path) for route in spec.routes}
    assert declared == app_routes(spec)


def test_no_route_is_declared_twice():
    routes = [
        (route.method, route.path) for spec in HTTP_FUNCTIONS for route in spec.routes
    ]
    assert len(routes) == len(set(routes))


def test_handlers_are_importable_from_their_code_uri():
    for spec in FUNCTIONS:
        assert (
            (spec.code_uri / spec.module.replace(".", "/")).with_suffix(".py").is_file()
        ), spec.handler


def test_every_route_has_a_sample_event_and_every_sample_a_route():
    declared = {
        f"{route.method} {route.path}"
        for spec in HTTP_FUNCTIONS
        for route in spec.routes
    }
    samples = {
        json.loads(path.read_text())["routeKey"]
        for path in (ROOT / "events").glob("http_api_*.json")
    }
    assert declared == samples


@pytest.mark.packaging
def test_sam_validate_lint_is_clean():
    result = run_sam("validate", "--lint", "--template-file", "template.yaml")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output
    assert "W" not in "".join(
        line[:2]
        for line in output.splitlines()
        if line[:1] in "WE" and line[1:2].isdigit()
    )


@pytest.mark.packaging
def test_sam_build_packages_every_function_and_the_layer(built_artefact):
    layer = built_artefact / "SharedLayer" / "python"
    assert (layer / "ticketmania" / "db" / "migrations" / "env.py").is_file()
    assert (
        (layer / "sqlalchemy").is_dir()
        and (layer / "pg8000").is_dir()
        and (layer / "argon2").is_dir()
    )
    for spec in FUNCTIONS:
        module = built_artefact / spec.name / spec.module.replace(".", "/")
        assert module.with_suffix(".py").is_file(), spec.handler


SCHEDULED = [spec for spec in FUNCTIONS if spec.schedules]
RATE_SECONDS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}


def test_every_schedule_has_a_sample_and_every_sample_a_schedule():
    inputs = [
        json.loads(schedule.input) for spec in SCHEDULED for schedule in spec.schedules
    ]
    samples = [
        json.loads(path.read_text())
        for path in sorted((ROOT / "events").glob("schedule_*.json"))
    ]
    assert sorted(map(json.dumps, inputs)) == sorted(map(json.dumps, samples))


def test_every_job_is_scheduled_as_often_as_the_registry_says():
    from ticketmania.jobs import JOBS

    scheduled = {}
    for spec in SCHEDULED:
        for schedule in spec.schedules:
            expression = schedule.expression
            if expression.startswith("rate("):
                amount, unit = expression[5:-1].split()
                seconds = int(amount) * RATE_SECONDS[unit]
            else:  # cron: once a day
                seconds = 86400
            scheduled[json.loads(schedule.input)["job"]] = seconds
    assert scheduled == {name: job.every_seconds for name, job in JOBS.items()}


def test_env_local_json_sets_only_variables_the_template_declares():
    # sam local applies an env_vars entry only to a variable the function
    # declares: any other would be silently ignored.
    declared = {name for spec in FUNCTIONS for name in spec.environment}
    local = json.loads((ROOT / "env.local.json").read_text())["Parameters"]
    assert set(local) <= declared, set(local) - declared


def test_the_api_functions_get_the_memory_the_last_benchmark_chose():
    """`make bench` (benchmarks/artefact.py) chooses the API functions' memory by
    their cold starts under Lambda's CPU share; the template follows that run."""
    from localdev.template import load_template

    template = load_template(ROOT / "template.yaml")
    memory = template["Globals"]["Function"]["MemorySize"]
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    chosen = results.get("artefact", {}).get("chosen_memory_mb")
    if chosen is None:
        pytest.skip("the last benchmark run measured no cold starts (no python3.12)")
    assert memory == chosen, "run `make bench` and follow BENCHMARKS.md, or say why not"
    resources = template["Resources"]
    for spec in HTTP_FUNCTIONS:  # the API functions take the Globals' memory
        assert "MemorySize" not in resources[spec.name]["Properties"], spec.name
