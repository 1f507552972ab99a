"""The AWS SAM CLI for the packaging tests: `sam validate` and one `sam build`
per test session, shared by every test that reads the built artefact."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"


def run_sam(
    *args: str, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail("the SAM CLI is not installed: run `make sam-cli` (make test does)")
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        **(env or {}),
    }
    return subprocess.run(
        [str(SAM), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python312_dir() -> str | None:
    """A folder holding a working python3.12 (what the python3.12 runtime's build needs)."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/python312-path.sh")],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def sam_build(build_dir: Path) -> Path:
    """`sam build` into build_dir, as `make build` runs it; skips without python3.12."""
    python_dir = python312_dir()
    if python_dir is None:
        pytest.skip("no python3.12 on this machine: the built artefact cannot be made")
    result = run_sam(
        "build",
        "--template-file",
        "template.yaml",
        "--build-dir",
        str(build_dir),
        env={"PATH": f"{python_dir}:{os.environ['PATH']}"},
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir
