"""The first `make run` or `make test` says what it is doing while it sets up:
every slow step of the set-up is announced before it runs."""

import subprocess

from tests.conftest import ROOT


def dry_run(target: str) -> list[str]:
    # -n: print the recipe without running it; -B: as on a fresh clone.
    result = subprocess.run(
        ["make", "-n", "-B", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_every_slow_step_of_the_set_up_is_announced_first():
    for target, slow in (("install", "pip install"), ("sam-cli", "pip install")):
        lines = dry_run(target)
        steps = [
            i for i, line in enumerate(lines) if slow in line or " -m venv " in line
        ]
        assert steps, (target, lines)
        for index in steps:
            assert index > 0 and lines[index - 1].startswith('echo "make: '), (
                target,
                lines[index],
            )
