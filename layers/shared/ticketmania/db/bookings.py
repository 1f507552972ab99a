"""Data access for the bookings table (and the seats a booking takes or gives back).

Rows are never deleted: only their status changes. A booking and a
cancellation are each ONE statement: from the moment it locks the seats it
needs until it commits, nothing else runs, so buyers of one event wait on each
other as briefly as the database allows (docs/architecture.md).

Lock order, everywhere: seat shards (in shard order when there are several),
then the events row (a booking share-locks it, an admin write locks it for
update), then the bookings row, then user_event_seats.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ticketmania.db import outbox, paging
from ticketmania.db.failures import constraint_of, sqlstate_of
from ticketmania.db.models import Booking
from ticketmania.db.statements import run_alone

_BOOKING_COLUMNS = (
    "id",
    "user_id",
    "event_id",
    "seats_booked",
    "status",
    "created_at",
    "cancelled_at",
    "expires_at",
    "ticket_type_id",
    "unit_price_minor",
    "total_minor",
    "currency",
)

# The ticket type sold: one on sale, of at most this many a order, that no
# quota but the event's counts (an order touching quotas takes the general
# statement, db/orders.py). `:ticket_type_id` NULL: the event's default type.
_KIND = """
kind AS (
  SELECT t.id, t.price_minor
  FROM ticket_types AS t
  WHERE t.event_id = :event_id AND t.deleted_at IS NULL
    AND CASE WHEN CAST(:ticket_type_id AS bigint) IS NULL THEN t.is_default
             ELSE t.id = CAST(:ticket_type_id AS bigint) END
    AND (t.sale_starts_at IS NULL OR t.sale_starts_at <= :now)
    AND (t.sale_ends_at IS NULL OR t.sale_ends_at > :now)
    AND (t.max_per_order IS NULL OR t.max_per_order >= :seats)
    AND NOT EXISTS (SELECT 1 FROM quota_ticket_types AS q WHERE q.ticket_type_id = t.id)
),"""

# The fast pick: one shard that holds all the seats asked for, tried in random
# order, skipping shards another booking holds. Never waits, so it can miss
# seats that sit in locked shards: `BookingAttempt.may_wait` says when to try
# the waiting pick.
_PICK_ONE_SHARD = """
pick AS (
  SELECT s.shard, s.available, CAST(:seats AS int) AS seats
  FROM seat_shards AS s
  WHERE s.event_id = :event_id AND s.available >= :seats AND EXISTS (SELECT 1 FROM kind)
  ORDER BY random()
  LIMIT 1
  FOR UPDATE OF s SKIP LOCKED
), seats_left AS (
  SELECT coalesce(sum(available), 0) AS seats FROM seat_shards WHERE event_id = :event_id
)"""

# The waiting pick: every shard with seats, locked in shard order (waiting for
# bookings in flight), then seats taken from the first ones until enough. Exact:
# it refuses only when the seats are really gone. Run as a statement of its own,
# never after the fast pick in one transaction: rows the fast pick locked out of
# order would then be held while this waits (a deadlock).
_PICK_SHARDS_IN_ORDER = """
locked AS (
  SELECT s.shard, s.available
  FROM seat_shards AS s
  WHERE s.event_id = :event_id AND s.available > 0 AND EXISTS (SELECT 1 FROM kind)
  ORDER BY s.shard
  FOR UPDATE OF s
), pick AS (
  SELECT shard, available, least(available, CAST(:seats AS int) - before) AS seats
  FROM (
    SELECT shard, available,
           coalesce(sum(available) OVER (ORDER BY shard
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM locked
  ) AS running
  WHERE before < :seats AND (SELECT sum(available) FROM locked) >= :seats
), seats_left AS (
  -- Counted under the locks, after waiting: the seats left now, not at the start.
  SELECT coalesce(sum(available), 0) AS seats FROM locked
)"""

# After the seats are held: the event read again under a share lock, which
# follows the row to its newest version (so a cancellation that committed while
# this waited is seen; a key-share lock would not) and finds it as this
# statement's snapshot had it (same xmin): an admin write committed since, a
# ticket type deleted (db/ticket_types.soft_delete touches the event's row),
# makes it book nothing, and the caller asks again with a fresh snapshot
# (`BookingAttempt.is_event_changed_meanwhile`). Then the token's version,
# the Idempotency-Key, then the per-user cap as one guarded upsert (exact under
# concurrency: ON CONFLICT's WHERE sees the newest row). Each write depends on
# the one before it, so a failed guard writes nothing; a duplicate key (another
# request under the same key, committed meanwhile) aborts the whole statement.
# The order statements (db/orders.py) guard with the very same text.
GUARDS = """
prior AS (
  SELECT k.request_hash, b.id, b.user_id, b.event_id, b.seats_booked, b.status,
         b.created_at, b.cancelled_at, b.expires_at, b.ticket_type_id,
         b.unit_price_minor, b.total_minor, b.currency
  FROM idempotency_keys AS k JOIN bookings AS b ON b.id = k.booking_id
  WHERE k.user_id = :user_id AND k.key = CAST(:key AS varchar)
), line AS (
  -- While anyone waits, the event's free seats are the line's (offered in order).
  SELECT 1 FROM waitlist_entries
  WHERE event_id = :event_id AND status = 'waiting' LIMIT 1
), event_read AS (
  -- The event's row as this statement's snapshot has it: the version
  -- event_now must still find, and (only for a refusal) the answer's facts.
  SELECT xmin AS version, cancelled_at IS NULL AND event_date > :now AS is_open,
         admission_required
  FROM events WHERE id = :event_id
), event_now AS (
  SELECT e.id, e.currency FROM events AS e
  WHERE e.id = :event_id AND e.cancelled_at IS NULL AND e.event_date > :now
    -- While its waiting room is on, the event sells only to an admission.
    AND (NOT e.admission_required OR CAST(:admission_jti AS varchar) IS NOT NULL)
    AND e.xmin = (SELECT version FROM event_read)
    AND EXISTS (SELECT 1 FROM pick)
    AND EXISTS (SELECT 1 FROM users WHERE id = :user_id AND token_version = :token_version)
    AND NOT EXISTS (SELECT 1 FROM prior)
    AND NOT EXISTS (SELECT 1 FROM line)
  FOR SHARE OF e
), allowance AS (
  INSERT INTO user_event_seats AS u (user_id, event_id, seats)
  SELECT :user_id, id, :seats FROM event_now
  ON CONFLICT (user_id, event_id) DO UPDATE SET seats = u.seats + EXCLUDED.seats
  WHERE u.seats + EXCLUDED.seats <= :cap
  RETURNING u.seats
)"""

# The answer's row: the booking made, the prior one and the facts that say
# why nothing was booked (`attempt_from` reads them); each statement appends
# its own last facts, then ANSWER_FROM. The facts that cost a read are read
# only when nothing was booked (a CASE's branch not taken runs no subquery):
# on a booking they are what the guards it passed imply, or left out, and
# nothing reads them (BENCHMARKS.md, section 9: summing the event's shards
# and the reads after cost the one-type booking 5-10 % of its time).
ANSWER = """
SELECT booking.id, booking.user_id, booking.event_id, booking.seats_booked,
       booking.status, booking.created_at, booking.cancelled_at, booking.expires_at,
       booking.ticket_type_id, booking.unit_price_minor, booking.total_minor,
       booking.currency,
       prior.request_hash, prior.id, prior.user_id, prior.event_id, prior.seats_booked,
       prior.status, prior.created_at, prior.cancelled_at, prior.expires_at,
       prior.ticket_type_id, prior.unit_price_minor, prior.total_minor, prior.currency,
       CASE WHEN booking.id IS NULL
            THEN EXISTS (SELECT 1 FROM users
                         WHERE id = :user_id AND token_version = :token_version)
            ELSE true END,
       CASE WHEN booking.id IS NULL
            THEN EXISTS (SELECT 1 FROM event_read) ELSE true END,
       CASE WHEN booking.id IS NULL
            THEN coalesce((SELECT is_open FROM event_read), false) ELSE true END,
       EXISTS (SELECT 1 FROM pick),
       EXISTS (SELECT 1 FROM event_now),
       EXISTS (SELECT 1 FROM allowance),
       CASE WHEN booking.id IS NULL THEN (SELECT seats FROM seats_left) ELSE 0 END,
       CASE WHEN booking.id IS NULL
            THEN (SELECT seats FROM user_event_seats
                  WHERE user_id = :user_id AND event_id = :event_id) END,
       EXISTS (SELECT 1 FROM line),
       CASE WHEN booking.id IS NULL
            THEN EXISTS (SELECT 1 FROM bookings WHERE event_id = :event_id
                         AND status = 'held' AND expires_at <= :now)
            ELSE false END,
       CASE WHEN booking.id IS NULL
            THEN (SELECT min(expires_at) FROM bookings WHERE event_id = :event_id
                  AND status = 'held' AND expires_at > :now) END,
       CASE WHEN booking.id IS NULL
            THEN coalesce((SELECT admission_required FROM event_read), false)
                 AND CAST(:admission_jti AS varchar) IS NULL
            ELSE false END,
"""
ANSWER_FROM = """
FROM (SELECT 1) AS one
LEFT JOIN booking ON true
LEFT JOIN prior ON true
"""

# The admission a booking was made with, used up in the same statement: a
# second use is a unique violation of pk_admission_uses (nothing written).
# Only the statements run with an admission carry it: an INSERT that writes
# nothing still opens and locks its table, and the statement already locks
# more relations than a backend's 16 fast-path slots (BENCHMARKS.md, section 9).
ADMISSION_USE = """
), admission_use AS (
  INSERT INTO admission_uses (jti, event_id, user_id, position, booking_id)
  SELECT CAST(:admission_jti AS varchar), event_id, user_id,
         CAST(:admission_position AS bigint), id
  FROM booking WHERE CAST(:admission_jti AS varchar) IS NOT NULL"""

_ADMITTED_BOOK_AFTER_PICK = (
    "\n, "
    + GUARDS.strip("\n")
    + """, taken AS (
  -- From the count the pick locked, not the row as this statement's snapshot
  -- had it: seats given back to the shard while the pick waited are in the
  -- former only (the snapshot's 1 - 2 broke the CHECK: a 409 for real seats).
  UPDATE seat_shards AS s SET available = pick.available - pick.seats
  FROM pick
  WHERE s.event_id = :event_id AND s.shard = pick.shard
    AND EXISTS (SELECT 1 FROM allowance)
  RETURNING s.shard
), booking AS (
  INSERT INTO bookings (user_id, event_id, seats_booked, status, expires_at,
                        ticket_type_id, unit_price_minor, total_minor, currency)
  SELECT :user_id, :event_id, :seats,
         -- A hold when asked for, and a priced order until it is paid.
         CASE WHEN CAST(:hold AS boolean) OR kind.price_minor > 0 THEN 'held' ELSE 'confirmed' END,
         CASE WHEN CAST(:hold AS boolean) OR kind.price_minor > 0
              THEN CAST(:now AS timestamptz)
                   + make_interval(secs => CAST(:hold_seconds AS double precision))
         END,
         kind.id, kind.price_minor, kind.price_minor * :seats, event_now.currency
  FROM kind, event_now
  WHERE EXISTS (SELECT 1 FROM taken)
  RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at,
            expires_at, ticket_type_id, unit_price_minor, total_minor, currency
), key AS (
  INSERT INTO idempotency_keys (user_id, key, request_hash, booking_id)
  SELECT user_id, CAST(:key AS varchar), CAST(:request_hash AS varchar), id
  FROM booking WHERE CAST(:key AS varchar) IS NOT NULL"""
    + ADMISSION_USE
    + """
), message AS (
  INSERT INTO outbox (topic, payload)
  SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id', user_id,
    'event_id', event_id, 'seats_booked', seats_booked)
  FROM booking WHERE status = 'confirmed'  -- a hold's e-mail waits for its confirmation
)
"""
    + ANSWER.lstrip("\n")
    + """       EXISTS (SELECT 1 FROM kind)
"""
    + ANSWER_FROM.lstrip("\n")
)

_BOOK_AFTER_PICK = _ADMITTED_BOOK_AFTER_PICK.replace(ADMISSION_USE, "")

BOOK_FROM_ONE_SHARD = "WITH " + _KIND + _PICK_ONE_SHARD + _BOOK_AFTER_PICK
BOOK_FROM_SHARDS_IN_ORDER = "WITH " + _KIND + _PICK_SHARDS_IN_ORDER + _BOOK_AFTER_PICK
# The same, for a request that carries a waiting room's admission.
ADMITTED_BOOK_FROM_ONE_SHARD = (
    "WITH " + _KIND + _PICK_ONE_SHARD + _ADMITTED_BOOK_AFTER_PICK
)
ADMITTED_BOOK_FROM_SHARDS_IN_ORDER = (
    "WITH " + _KIND + _PICK_SHARDS_IN_ORDER + _ADMITTED_BOOK_AFTER_PICK
)


def statement_for(
    *,
    wait: bool,
    admitted: bool,
    plain: tuple[str, str],
    with_admission: tuple[str, str],
) -> str:
    """The (fast pick, waiting pick) statement of `plain`, or of `with_admission`
    when the request carries an admission to use up."""
    fast, waiting = with_admission if admitted else plain
    return waiting if wait else fast


@dataclass(frozen=True)
class QueueAdmission:
    """A waiting room's admission the request carries (verified already):
    its token's id, used up by the booking made with it, and its position."""

    jti: str
    position: int


def admission_params(admission: QueueAdmission | None) -> dict[str, Any]:
    return {
        "admission_jti": admission.jti if admission is not None else None,
        "admission_position": admission.position if admission is not None else None,
    }


@dataclass(frozen=True)
class BookingAttempt:
    """What one booking statement did, and, when it booked nothing, the facts
    that say why (read in the statement's own snapshot, without locks)."""

    booking: Booking | None
    # An earlier request under the same Idempotency-Key, and its body's hash.
    prior: Booking | None
    prior_request_hash: str | None
    is_token_current: bool
    is_event_found: bool
    is_event_open: bool
    # Seats were held for this request (the pick found them).
    has_seats: bool
    # Still open, with the token current and the key unused, once the seats were held.
    is_event_open_now: bool
    is_within_cap: bool
    seats_left: int
    user_seats: int
    # Someone waits in the event's line: its free seats are the line's.
    is_waitlisted: bool = False
    # Holds that have ended but are not settled: their seats are free, to be
    # given back (ticketmania/seat_release.py) before anyone is told "sold out".
    has_ended_holds: bool = False
    # When the event's next live hold ends (its seats come back then).
    next_hold_end: datetime | None = None
    # The key was taken meanwhile by a concurrent request: nothing was written.
    is_key_taken: bool = False
    # The type is one this statement sells (on sale, in no quota but the
    # event's, within its max_per_order); if not, the general order statement
    # (db/orders.py) takes it, or says why not.
    is_plain_type: bool = True
    # The event's waiting room is on and the request carried no admission.
    is_admission_missing: bool = False
    # The admission was used already (by another order or hold): nothing written.
    is_admission_used: bool = False

    @property
    def is_event_changed_meanwhile(self) -> bool:
        """The seats were held, then the event's row was found changed by an
        admin write that committed after this statement's snapshot began (a
        type deleted, the event cancelled): nothing was written; asked again,
        a fresh snapshot says what holds now."""
        return (
            self.booking is None
            and self.has_seats
            and not self.is_event_open_now
            and self.is_event_open
            and self.is_token_current
            and self.prior is None
            and not self.is_waitlisted
            and not self.is_admission_missing
            and not self.is_key_taken
        )

    def may_wait(self, seats: int) -> bool:
        """The fast pick found no free shard, though the seats may be there,
        held by bookings in flight: the waiting pick can tell."""
        return (
            not self.has_seats
            and self.is_token_current
            and self.prior is None
            and self.is_event_found
            and self.is_event_open
            and not self.is_waitlisted
            and self.is_plain_type
            and self.seats_left >= seats
        )


def _booking_from(values: Any) -> Booking | None:
    if values[0] is None:
        return None
    return Booking(**dict(zip(_BOOKING_COLUMNS, values, strict=True)))


def book(
    session: Session,
    *,
    wait: bool,
    user_id: int,
    token_version: int,
    event_id: int,
    seats: int,
    max_seats_per_user: int,
    idempotency_key: str | None,
    request_hash: str | None,
    now: datetime,
    hold: bool = False,
    hold_seconds: int = 0,
    ticket_type_id: int | None = None,
    admission: QueueAdmission | None = None,
) -> BookingAttempt:
    """Book seats in one statement that is its own transaction: take them from
    the shards (one shard, skipping busy ones; or, with `wait`, as many shards as
    it takes, in order), count them against the user's cap, write the booking,
    its key and its outbox message. Writes nothing when any guard fails. With
    `hold`, or when the type has a price (it is paid for first), the booking
    is a hold ending `hold_seconds` after `now`, and its e-mail waits for its
    confirmation.

    Runs on a pooled connection of its own (`run_alone`): the session must not
    hold one.
    """
    params = {
        "user_id": user_id,
        "token_version": token_version,
        "event_id": event_id,
        "seats": seats,
        "cap": max_seats_per_user,
        "key": idempotency_key,
        "request_hash": request_hash,
        "topic": outbox.BOOKING_CONFIRMED,
        "now": now,
        "hold": hold,
        "hold_seconds": hold_seconds,
        "ticket_type_id": ticket_type_id,
        **admission_params(admission),
    }
    statement = statement_for(
        wait=wait,
        admitted=admission is not None,
        plain=(BOOK_FROM_ONE_SHARD, BOOK_FROM_SHARDS_IN_ORDER),
        with_admission=(
            ADMITTED_BOOK_FROM_ONE_SHARD,
            ADMITTED_BOOK_FROM_SHARDS_IN_ORDER,
        ),
    )
    try:
        (row,) = run_alone(session, statement, params)
    except DBAPIError as exc:
        return taken_or_raise(exc)
    return attempt_from(row)


def taken_or_raise(exc: DBAPIError) -> BookingAttempt:
    """A unique violation on the key (another request under it committed
    first) or on the admission (used by another booking): the answer;
    anything else is raised again."""
    match (sqlstate_of(exc), constraint_of(exc)):
        case ("23505", "pk_idempotency_keys"):
            return key_taken()
        case ("23505", "pk_admission_uses"):
            return admission_used()
    raise exc


def admission_used() -> BookingAttempt:
    """The answer when the admission was used by another booking: nothing
    was written."""
    return replace(key_taken(), is_key_taken=False, is_admission_used=True)


def key_taken() -> BookingAttempt:
    """The answer when another request under the same key committed first:
    nothing was written."""
    return BookingAttempt(
        booking=None,
        prior=None,
        prior_request_hash=None,
        is_token_current=True,
        is_event_found=True,
        is_event_open=True,
        has_seats=False,
        is_event_open_now=True,
        is_within_cap=True,
        seats_left=0,
        user_seats=0,
        is_key_taken=True,
    )


def attempt_from(row: Any) -> BookingAttempt:
    """The booking statement's answer row, read (the order statements,
    db/orders.py, answer in the same shape)."""
    width = len(_BOOKING_COLUMNS)
    flags = row[2 * width + 1 :]
    return BookingAttempt(
        booking=_booking_from(row[0:width]),
        prior_request_hash=row[width],
        prior=_booking_from(row[width + 1 : 2 * width + 1]),
        is_token_current=bool(flags[0]),
        is_event_found=bool(flags[1]),
        is_event_open=bool(flags[2]),
        has_seats=bool(flags[3]),
        is_event_open_now=bool(flags[4]),
        is_within_cap=bool(flags[5]),
        seats_left=int(flags[6]),
        user_seats=int(flags[7] or 0),
        is_waitlisted=bool(flags[8]),
        has_ended_holds=bool(flags[9]),
        next_hold_end=flags[10],
        is_admission_missing=bool(flags[11]),
        is_plain_type=bool(flags[12]),
    )


@dataclass(frozen=True)
class PriorRequest:
    """An earlier request under the same Idempotency-Key."""

    booking: Booking
    request_hash: str


_FIND_PRIOR_REQUEST = text(
    """
    SELECT k.request_hash, b.*
    FROM idempotency_keys AS k JOIN bookings AS b ON b.id = k.booking_id
    WHERE k.user_id = :user_id AND k.key = :key
    """
)


def find_prior_request(
    session: Session, *, user_id: int, idempotency_key: str
) -> PriorRequest | None:
    row = (
        session.execute(
            _FIND_PRIOR_REQUEST, {"user_id": user_id, "key": idempotency_key}
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    booking = Booking(**{name: row[name] for name in _BOOKING_COLUMNS})
    return PriorRequest(booking=booking, request_hash=row["request_hash"])


def get_booking(session: Session, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


_USER_SEATS = text(
    "SELECT seats FROM user_event_seats WHERE user_id = :user_id AND event_id = :event_id"
)


def user_seats(session: Session, *, user_id: int, event_id: int) -> int:
    """The seats the user holds on the event, confirmed and held: what the
    per-user cap counts."""
    return int(
        session.scalar(_USER_SEATS, {"user_id": user_id, "event_id": event_id}) or 0
    )


CANCEL_BOOKING = """
    WITH target AS (
      SELECT b.id, b.event_id, e.shard_count
      FROM bookings AS b JOIN events AS e ON e.id = b.event_id
      WHERE b.id = :booking_id
    ), shard AS (
      SELECT s.event_id, s.shard, s.available FROM seat_shards AS s JOIN target AS t
        ON s.event_id = t.event_id AND s.shard = mod(t.id, t.shard_count)
      FOR UPDATE OF s
    ), taken AS (
      SELECT quota_id, sum(seats) AS seats FROM booking_quota_takes
      WHERE booking_id = :booking_id GROUP BY quota_id
    ), takes AS (
      -- What the order's lines took from quotas, their shards locked after
      -- the event's, in quota order (db/orders.py): given back, unless closed.
      SELECT s.quota_id, s.shard, s.available, s.closed, taken.seats
      FROM taken
      JOIN quotas AS q ON q.id = taken.quota_id
      JOIN quota_shards AS s ON s.quota_id = taken.quota_id
        AND s.shard = mod(CAST(:booking_id AS bigint), q.shard_count)
      WHERE EXISTS (SELECT 1 FROM shard)
      ORDER BY s.quota_id
      FOR UPDATE OF s
    ), cancelled AS (
      UPDATE bookings AS b SET status = 'cancelled', cancelled_at = :now
      FROM events AS e
      WHERE b.id = :booking_id
        AND (b.status = 'confirmed' OR (b.status = 'held' AND b.expires_at > :now))
        AND e.id = b.event_id AND e.event_date > :now
        AND EXISTS (SELECT 1 FROM shard)
        AND (SELECT count(*) FROM takes) >= 0
      -- A hold keeps its expires_at until it is confirmed: this was one.
      RETURNING b.id, b.user_id, b.event_id, b.seats_booked,
                b.expires_at IS NOT NULL AS was_held
    ), returned AS (
      -- From the count the lock read (as the booking statement does).
      UPDATE seat_shards AS s SET available = shard.available + cancelled.seats_booked
      FROM cancelled, shard
      WHERE s.event_id = shard.event_id AND s.shard = shard.shard
    ), quota_returned AS (
      UPDATE quota_shards AS s
      SET available = takes.available + CASE WHEN takes.closed THEN 0 ELSE takes.seats END
      FROM cancelled, takes
      WHERE s.quota_id = takes.quota_id AND s.shard = takes.shard
    ), allowance AS (
      UPDATE user_event_seats AS u SET seats = u.seats - cancelled.seats_booked
      FROM cancelled
      WHERE u.user_id = cancelled.user_id AND u.event_id = cancelled.event_id
    ), message AS (
      -- A released hold sends nothing: no confirmation was ever sent for it.
      INSERT INTO outbox (topic, payload)
      SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id', user_id,
        'event_id', event_id, 'seats_booked', seats_booked)
      FROM cancelled WHERE NOT was_held
    )
    SELECT (SELECT count(*) FROM cancelled),
           coalesce((SELECT was_held FROM cancelled), false),
           EXISTS (SELECT 1 FROM waitlist_entries AS w JOIN target AS t
                   ON w.event_id = t.event_id WHERE w.status = 'waiting')
"""


@dataclass(frozen=True)
class Cancellation:
    is_cancelled: bool
    # It was a hold: released, with no e-mail.
    was_held: bool
    # Someone waits for the event: the seats given back are theirs to be offered.
    has_waiting: bool


def cancel_booking(session: Session, booking_id: int, *, now: datetime) -> Cancellation:
    """Cancel a confirmed booking, or release a live hold, of an event not yet
    started: give its seats back to one shard, take them off the user's count
    and write the outbox message (a booking's, not a hold's): one statement that
    is its own transaction, so the shard is held for that statement only.
    Nothing changes for a booking already cancelled, a hold that has ended, or
    an event that started.

    Runs on a pooled connection of its own (`run_alone`): the session must not
    hold one."""
    ((cancelled, was_held, has_waiting),) = run_alone(
        session,
        CANCEL_BOOKING,
        {"booking_id": booking_id, "now": now, "topic": outbox.BOOKING_CANCELLED},
    )
    return Cancellation(
        is_cancelled=cancelled == 1,
        was_held=bool(was_held),
        has_waiting=bool(has_waiting),
    )


def list_user_bookings(
    session: Session, user_id: int, *, limit: int, offset: int
) -> tuple[list[Booking], int]:
    """The user's bookings, newest first, and how many there are."""
    return paging.fetch_page(
        session,
        Booking,
        [Booking.user_id == user_id],
        order_by=[Booking.id.desc()],
        limit=limit,
        offset=offset,
    )


def list_event_bookings(
    session: Session, event_id: int, *, limit: int, offset: int
) -> tuple[list[Booking], int]:
    """The event's bookings, newest first, and how many there are."""
    return paging.fetch_page(
        session,
        Booking,
        [Booking.event_id == event_id],
        order_by=[Booking.id.desc()],
        limit=limit,
        offset=offset,
    )
