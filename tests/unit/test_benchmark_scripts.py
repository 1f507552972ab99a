"""`make bench` turns the booking path's own statement into a pgbench script:
a change of the statement's placeholders must not be found by the benchmark first."""

from benchmarks.pgbench import booking_statement_script
from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD


def test_the_booking_statement_becomes_a_pgbench_script():
    script = booking_statement_script(BOOK_FROM_ONE_SHARD)
    assert "CAST(false AS boolean)" in script
    assert ":hold" not in script


def test_a_built_function_that_cannot_start_fails_its_section_not_the_run(tmp_path):
    """`make bench` records the failure and goes on to write every other figure."""
    import sys

    from benchmarks.__main__ import _section
    from benchmarks.artefact import start_once

    results: dict = {}

    def start_a_function_that_is_not_there():
        return start_once(
            sys.executable, tmp_path, "NoFunction", "no.app", [], {}, tmp_path
        )

    assert _section(results, "artefact", start_a_function_that_is_not_there) is None
    assert "NoFunction failed to start" in results["failures"]["artefact"]


def test_the_order_statement_and_the_booking_before_types_become_pgbench_scripts():
    from benchmarks.booking_before_types import BOOK_FROM_ONE_SHARD_BEFORE_TYPES
    from benchmarks.orders import order_script

    assert ":type_ids" not in order_script()
    assert "ARRAY[1, 1, 1]" in order_script()
    assert ":hold" not in booking_statement_script(BOOK_FROM_ONE_SHARD_BEFORE_TYPES)


def test_kendall_tau_counts_concordant_and_discordant_pairs():
    from benchmarks.waiting_room import kendall_tau

    assert kendall_tau([(1, 1), (2, 2), (3, 3)]) == 1.0
    assert kendall_tau([(1, 3), (2, 2), (3, 1)]) == -1.0
    # One swapped neighbour in four: 5 of 6 pairs agree, 1 does not.
    assert abs(kendall_tau([(1, 1), (2, 3), (3, 2), (4, 4)]) - 4 / 6) < 1e-9


def test_only_a_request_with_an_admission_runs_a_statement_that_writes_its_use():
    """An INSERT that writes nothing still opens and locks its table: the
    statements of requests without an admission leave admission_uses out."""
    from ticketmania.db import bookings, orders

    plain = (bookings.BOOK_FROM_ONE_SHARD, bookings.BOOK_FROM_SHARDS_IN_ORDER)
    admitted = (
        bookings.ADMITTED_BOOK_FROM_ONE_SHARD,
        bookings.ADMITTED_BOOK_FROM_SHARDS_IN_ORDER,
    )
    for wait in (False, True):
        chosen = bookings.statement_for(
            wait=wait, admitted=False, plain=plain, with_admission=admitted
        )
        assert "admission_uses" not in chosen
        chosen = bookings.statement_for(
            wait=wait, admitted=True, plain=plain, with_admission=admitted
        )
        assert "INSERT INTO admission_uses" in chosen
    assert "admission_uses" not in orders.ORDER_FROM_ONE_SHARD_EACH
    assert "INSERT INTO admission_uses" in orders.ADMITTED_ORDER_FROM_ONE_SHARD_EACH
