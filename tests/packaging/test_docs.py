"""The repository stands alone: docs/api.md lists exactly the declared routes,
and no tracked file points outside the repository."""

import re
import subprocess

from localdev.template import read_functions
from tests.conftest import ROOT

# The team's brief lived beside the repository once; nothing may point there.
SHARED_BRIEF = re.compile(r"\.\./shared")
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)")


def declared_routes():
    return {
        f"{route.method} {route.path}"
        for spec in read_functions(ROOT / "template.yaml")
        for route in spec.routes
    }


def documented_routes():
    text = (ROOT / "docs" / "api.md").read_text()
    return {f"{method} {path}" for method, path in ROUTE.findall(text)}


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in names:
        path = ROOT / name
        try:
            yield path, path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue


def test_every_declared_route_is_documented():
    assert declared_routes() - documented_routes() == set()


def test_every_documented_route_is_declared():
    assert documented_routes() - declared_routes() == set()


def test_no_tracked_file_refers_outside_the_repository():
    outside = []
    for path, text in tracked_text_files():
        if SHARED_BRIEF.search(text):
            outside.append(
                f"{path.relative_to(ROOT)}: the brief outside the repository"
            )
        if path.suffix == ".md":
            for target in MARKDOWN_LINK.findall(text):
                if "://" in target or target.startswith("mailto:"):
                    continue
                resolved = (path.parent / target).resolve()
                if not resolved.is_relative_to(ROOT) or not resolved.exists():
                    outside.append(f"{path.relative_to(ROOT)}: {target}")
    assert outside == []


MIGRATIONS = ROOT / "layers/shared/ticketmania/db/migrations/versions"
CREATE_TABLE = re.compile(r'op\.create_table\(\s*"(\w+)"')
DROP_TABLE = re.compile(r'op\.drop_table\(\s*"(\w+)"')
FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


def migrated_tables():
    """The tables the migrations leave, read from their upgrade() steps."""
    tables: set[str] = set()
    for path in sorted(MIGRATIONS.glob("*.py")):
        upgrade = path.read_text().split("def downgrade")[0]
        tables |= set(CREATE_TABLE.findall(upgrade))
        tables -= set(DROP_TABLE.findall(upgrade))
    return tables


def diagrams_naming_postgres(doc):
    blocks = FENCED.findall((ROOT / doc).read_text())
    return [block for block in blocks if "Postgres:" in block]


def test_every_table_diagram_shows_every_table():
    tables = migrated_tables()
    assert {"users", "bookings", "user_event_seats", "sent_notifications"} <= tables
    for doc in ("README.md", "docs/architecture.md"):
        (diagram,) = diagrams_naming_postgres(doc)
        missing = {table for table in tables if table not in diagram}
        assert missing == set(), f"{doc}'s diagram leaves out {sorted(missing)}"


def cli_commands():
    from localdev.cli import build_parser

    (commands,) = [
        action
        for action in build_parser()._actions
        if action.__class__.__name__ == "_SubParsersAction"
    ]
    return sorted(commands.choices)


def test_every_command_and_job_is_in_the_command_lists():
    from ticketmania.jobs import JOBS

    readme = (ROOT / "README.md").read_text()
    architecture = (ROOT / "docs/architecture.md").read_text()
    (localdev_line,) = [
        line for line in architecture.splitlines() if line.startswith("localdev/")
    ]
    (job_row,) = [
        line for line in readme.splitlines() if line.startswith("| `ticketmania job")
    ]
    for command in cli_commands():
        assert f"`ticketmania {command}" in readme, command
        assert command in localdev_line, command
    for job in JOBS:
        assert f"`{job}`" in job_row, job
        assert f"| `{job}` |" in architecture, job
