"""purge-idempotency-keys: forget Idempotency-Keys older than a day.

Once purged, a key may be used again (for a new booking). Deleted in small
batches, so no run holds many row locks for long; running twice, or at once,
only finds fewer to delete.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from ticketmania.db.engine import SessionOpener

KEEP = timedelta(hours=24)
BATCH = 1000

_PURGE_BATCH = text(
    """
    WITH gone AS (
      DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE created_at < :cutoff LIMIT :batch
      )
      RETURNING 1
    )
    SELECT count(*) FROM gone
    """
)


def purge_idempotency_keys(
    open_session: SessionOpener,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    cutoff = clock() - KEEP
    purged = 0
    while True:
        with open_session() as session:
            deleted = int(
                session.scalar(_PURGE_BATCH, {"cutoff": cutoff, "batch": BATCH}) or 0
            )
            session.commit()
        purged += deleted
        if deleted < BATCH:
            return {"purged": purged}
