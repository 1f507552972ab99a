"""ruff and mypy stay clean: run as part of the suite so CI holds the line."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*args):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_check_is_clean():
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    packages = [
        str(path)
        for path in sorted(ROOT.glob("functions/*/*/"))
        if (path / "__init__.py").exists()
    ]
    result = run(str(BIN / "mypy"), "layers/shared/ticketmania", "localdev", *packages)
    assert result.returncode == 0, result.stdout + result.stderr
