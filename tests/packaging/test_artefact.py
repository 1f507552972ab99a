"""What `sam build` makes is what Lambda runs: a slim layer with no test or dev
tools and no AWS SDK (the runtime has it), and every module compiled ahead as
hash-based bytecode, so no cold start compiles anything."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

MAX_LAYER_BYTES = 45_000_000
NEVER_IN_THE_LAYER = (
    "pytest",
    "moto",
    "hypothesis",
    "boto3",
    "botocore",
    "ruff",
    "mypy",
)


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_the_layer_is_at_most_45_mb_unzipped(built_artefact):
    assert size_of(built_artefact / "SharedLayer") <= MAX_LAYER_BYTES


def test_the_layer_carries_no_test_or_dev_tools(built_artefact):
    layer = built_artefact / "SharedLayer" / "python"
    assert [name for name in NEVER_IN_THE_LAYER if (layer / name).exists()] == []
    assert [path for path in layer.rglob("tests") if path.is_dir()] == []


def pyc_flags(source: Path) -> int:
    compiled = Path(importlib.util.cache_from_source(str(source))).with_name(
        f"{source.stem}.cpython-312.pyc"
    )
    return int.from_bytes(compiled.read_bytes()[4:8], "little")


@pytest.mark.parametrize(
    "module",
    [
        "SharedLayer/python/ticketmania/db/bookings.py",
        "SharedLayer/python/sqlalchemy/orm/session.py",
        "SharedLayer/python/fastapi/routing.py",
        "BookingsFunction/bookings/logic.py",
        "AuthFunction/auth/routes.py",
    ],
)
def test_modules_ship_as_unchecked_hash_bytecode(built_artefact, module):
    # PEP 552: flags 0b01 = hash-based, not checked against the source (which
    # would need the zip's file times, or a read the read-only /opt cannot cache).
    assert pyc_flags(built_artefact / module) == 0b01
