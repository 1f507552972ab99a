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
