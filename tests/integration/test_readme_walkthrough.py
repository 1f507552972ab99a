"""The README's "Try it" block, run as written (against a server on a free
port instead of 8000), twice on the same data: every id it uses comes from an
answer, and it writes nothing outside `.data/`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.conftest import serving


def readme_try_it_block() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme.split("Try it:", 1)[1]
    return re.search(r"```sh\n(.*?)```", after, re.DOTALL).group(1)


def test_the_readme_walkthrough_runs_twice_on_the_same_data(tmp_path: Path):
    data = tmp_path / ".data"
    ticketmania = Path(sys.executable).parent / "ticketmania"
    with serving(TICKETMANIA_DATA_DIR=str(data), TICKETMANIA_JOBS="on") as base_url:
        script = (
            readme_try_it_block()
            .replace("localhost:8000", base_url.removeprefix("http://"))
            .replace(".venv/bin/ticketmania", str(ticketmania))
        )
        environment = {**os.environ, "TICKETMANIA_DATA_DIR": str(data)}
        for run in (1, 2):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, (run, result.stdout, result.stderr)
            assert '"code":"already_checked_in"' in result.stdout, run
    assert sorted(path.name for path in tmp_path.iterdir()) == [".data"]
    assert (data / "ticket.png").read_bytes().startswith(b"\x89PNG")
    shutil.rmtree(data, ignore_errors=True)
