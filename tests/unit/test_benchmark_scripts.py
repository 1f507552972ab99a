"""`make bench` turns the booking path's own statement into a pgbench script:
a change of the statement's placeholders must not be found by the benchmark first."""

from benchmarks.pgbench import booking_statement_script
from ticketmania.db.bookings import BOOK_FROM_ONE_SHARD


def test_the_booking_statement_becomes_a_pgbench_script():
    script = booking_statement_script(BOOK_FROM_ONE_SHARD)
    assert "CAST(false AS boolean)" in script
    assert ":hold" not in script
