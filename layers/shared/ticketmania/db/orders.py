"""Data access for orders: a bookings row (db/bookings.py) with its lines and
what it took from each quota.

An order of types that quotas count is ONE statement, like a booking: it
takes the order's seats from the event's shards and from a shard of every
quota its lines touch, or from none. The fast statement takes one shard of
each, skipping busy ones (it never waits, so it cannot deadlock); the waiting
one locks every shard of the event, in shard order, then every shard of the
quotas it needs, in (quota, shard) order: one global order, so two orders
touching the same quotas in opposite line order queue instead of deadlocking.
Every other statement that locks quota shards holds the event's shards first
(a cancellation one of them, a settlement all) or locks one quota's shards
in order (a resize).

What each line of an order took from each quota is written down (booking_quota_takes),
so seats go back to exactly those quotas, once, whatever the quotas' types
are by then. A quota that closes when sold out has one shard; the order that
empties it marks it closed, and it takes no seat back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ticketmania.db import outbox
from ticketmania.db.bookings import (
    ADMISSION_USE,
    ANSWER,
    ANSWER_FROM,
    GUARDS,
    BookingAttempt,
    QueueAdmission,
    admission_params,
    attempt_from,
    statement_for,
    taken_or_raise,
)
from ticketmania.db.statements import run_alone

# The lines asked for, each read with its type as this snapshot has it: a
# line of a type not on sale (or gone, or over its max_per_order) leaves the
# order without seats. `needs`: what the lines take from each quota.
_LINES = """
asked AS (
  SELECT a.ticket_type_id, a.quantity, a.line
  FROM unnest(CAST(:type_ids AS bigint[]), CAST(:quantities AS int[]))
       WITH ORDINALITY AS a(ticket_type_id, quantity, line)
), lines AS (
  SELECT t.id AS ticket_type_id, asked.quantity, t.price_minor, asked.line
  FROM asked JOIN ticket_types AS t ON t.id = asked.ticket_type_id
  WHERE t.event_id = :event_id AND t.deleted_at IS NULL
    AND (t.sale_starts_at IS NULL OR t.sale_starts_at <= :now)
    AND (t.sale_ends_at IS NULL OR t.sale_ends_at > :now)
    AND (t.max_per_order IS NULL OR asked.quantity <= t.max_per_order)
), sellable AS (
  SELECT count(*) = cardinality(CAST(:type_ids AS bigint[])) AS ok FROM lines
), needs AS (
  SELECT q.quota_id, CAST(sum(lines.quantity) AS int) AS seats, min(lines.line) AS line
  FROM lines JOIN quota_ticket_types AS q ON q.ticket_type_id = lines.ticket_type_id
  GROUP BY q.quota_id
),"""

# The fast pick: one event shard and one shard of each quota that hold all the
# seats asked of them, tried in random order, skipping locked ones.
_PICK_ONE_SHARD_EACH = """
event_pick AS (
  SELECT s.shard, s.available, CAST(:seats AS int) AS seats
  FROM seat_shards AS s
  WHERE s.event_id = :event_id AND s.available >= :seats AND (SELECT ok FROM sellable)
  ORDER BY random()
  LIMIT 1
  FOR UPDATE OF s SKIP LOCKED
), quota_pick AS (
  SELECT needs.quota_id, p.shard, p.available, needs.seats
  FROM needs CROSS JOIN LATERAL (
    SELECT s.shard, s.available FROM quota_shards AS s
    WHERE s.quota_id = needs.quota_id AND s.available >= needs.seats
      AND EXISTS (SELECT 1 FROM event_pick)
    ORDER BY random()
    LIMIT 1
    FOR UPDATE OF s SKIP LOCKED
  ) AS p
), seats_left AS (
  SELECT coalesce(sum(available), 0) AS seats FROM seat_shards WHERE event_id = :event_id
),"""

# The waiting pick: the event's shards with seats, locked in shard order, then
# (only once those are held) the needed quotas' shards in (quota, shard)
# order; seats taken from the first ones of each until enough. Exact.
# The needed quotas' shards with seats, locked in (quota, shard) order once
# the event's are held (`event_locked`), and the seats taken from the first
# ones of each until enough: what an order waits for, and a re-take.
_QUOTA_SHARDS_IN_ORDER = """), quota_locked AS (
  SELECT s.quota_id, s.shard, s.available
  FROM quota_shards AS s
  WHERE s.quota_id IN (SELECT quota_id FROM needs) AND s.available > 0
    AND (SELECT count(*) FROM event_locked) > 0
  ORDER BY s.quota_id, s.shard
  FOR UPDATE OF s
), quota_pick AS (
  SELECT quota_id, shard, available, least(available, need - before) AS seats
  FROM (
    SELECT l.quota_id, l.shard, l.available, needs.seats AS need,
           coalesce(sum(l.available) OVER (PARTITION BY l.quota_id ORDER BY l.shard
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
           sum(l.available) OVER (PARTITION BY l.quota_id) AS quota_total
    FROM quota_locked AS l JOIN needs ON needs.quota_id = l.quota_id
  ) AS running
  WHERE before < need AND quota_total >= need
"""

_PICK_SHARDS_IN_ORDER = (
    """
event_locked AS (
  SELECT s.shard, s.available
  FROM seat_shards AS s
  WHERE s.event_id = :event_id AND s.available > 0 AND (SELECT ok FROM sellable)
  ORDER BY s.shard
  FOR UPDATE OF s
), event_pick AS (
  SELECT shard, available, least(available, CAST(:seats AS int) - before) AS seats
  FROM (
    SELECT shard, available,
           coalesce(sum(available) OVER (ORDER BY shard
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM event_locked
  ) AS running
  WHERE before < :seats AND (SELECT sum(available) FROM event_locked) >= :seats
"""
    + _QUOTA_SHARDS_IN_ORDER
    + """), seats_left AS (
  SELECT coalesce(sum(available), 0) AS seats FROM event_locked
),"""
)

# Seats from the event and from every quota needed, or none: then the same
# guards as a booking's (db/bookings.py), the order and its lines, what it
# took from each quota, its key and its message.
_ADMITTED_ORDER_AFTER_PICK = (
    """
pick AS (
  SELECT 1 WHERE EXISTS (SELECT 1 FROM event_pick)
    AND (SELECT count(DISTINCT quota_id) FROM quota_pick) = (SELECT count(*) FROM needs)
), """
    + GUARDS.strip("\n")
    + """, taken AS (
  UPDATE seat_shards AS s SET available = event_pick.available - event_pick.seats
  FROM event_pick
  WHERE s.event_id = :event_id AND s.shard = event_pick.shard
    AND EXISTS (SELECT 1 FROM allowance)
  RETURNING s.shard
), quota_taken AS (
  UPDATE quota_shards AS s
  SET available = p.available - p.seats,
      closed = s.closed OR (q.close_when_sold_out AND p.available - p.seats = 0)
  FROM quota_pick AS p JOIN quotas AS q ON q.id = p.quota_id
  WHERE s.quota_id = p.quota_id AND s.shard = p.shard
    AND EXISTS (SELECT 1 FROM allowance)
), one_line AS (
  SELECT ticket_type_id, price_minor FROM lines WHERE (SELECT count(*) FROM lines) = 1
), booking AS (
  INSERT INTO bookings (user_id, event_id, seats_booked, status, expires_at,
                        ticket_type_id, unit_price_minor, total_minor, currency)
  SELECT :user_id, :event_id, :seats,
         -- A hold when asked for, and a priced order until it is paid.
         CASE WHEN CAST(:hold AS boolean) OR (SELECT sum(quantity * price_minor) FROM lines) > 0 THEN 'held' ELSE 'confirmed' END,
         CASE WHEN CAST(:hold AS boolean) OR (SELECT sum(quantity * price_minor) FROM lines) > 0
              THEN CAST(:now AS timestamptz)
                   + make_interval(secs => CAST(:hold_seconds AS double precision))
         END,
         (SELECT ticket_type_id FROM one_line), (SELECT price_minor FROM one_line),
         (SELECT sum(quantity * price_minor) FROM lines), event_now.currency
  FROM event_now
  WHERE EXISTS (SELECT 1 FROM taken)
  RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at,
            expires_at, ticket_type_id, unit_price_minor, total_minor, currency
), lines_written AS (
  INSERT INTO booking_lines (booking_id, ticket_type_id, quantity, unit_price_minor)
  SELECT booking.id, lines.ticket_type_id, lines.quantity, lines.price_minor
  FROM booking, lines WHERE NOT EXISTS (SELECT 1 FROM one_line)
), takes AS (
  -- Per line: what `needs` summed, from the same rows of the same snapshot.
  INSERT INTO booking_quota_takes (booking_id, ticket_type_id, quota_id, seats)
  SELECT booking.id, lines.ticket_type_id, q.quota_id, lines.quantity
  FROM booking, lines JOIN quota_ticket_types AS q ON q.ticket_type_id = lines.ticket_type_id
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
  FROM booking WHERE status = 'confirmed'
), quota_left AS (
  -- Read without locks, for the answer only: the first line whose quota lacks seats.
  SELECT needs.line, needs.seats,
         coalesce(sum(s.available) FILTER (WHERE NOT s.closed), 0) AS available
  FROM needs LEFT JOIN quota_shards AS s ON s.quota_id = needs.quota_id
  GROUP BY needs.quota_id, needs.line, needs.seats
)
"""
    + ANSWER.lstrip("\n")
    + """       (SELECT ok FROM sellable),
       -- The lines' prices in the order asked: the answer needs no read after.
       (SELECT array_agg(price_minor ORDER BY line) FROM lines),
       -- Only for a refusal: summing every shard of every quota costs.
       CASE WHEN booking.id IS NULL
            THEN (SELECT min(line) FROM quota_left WHERE available < seats) END
"""
    + ANSWER_FROM.lstrip("\n")
)

_ORDER_AFTER_PICK = _ADMITTED_ORDER_AFTER_PICK.replace(ADMISSION_USE, "")

ORDER_FROM_ONE_SHARD_EACH = "WITH " + _LINES + _PICK_ONE_SHARD_EACH + _ORDER_AFTER_PICK
ORDER_FROM_SHARDS_IN_ORDER = (
    "WITH " + _LINES + _PICK_SHARDS_IN_ORDER + _ORDER_AFTER_PICK
)
# The same, for a request that carries a waiting room's admission.
ADMITTED_ORDER_FROM_ONE_SHARD_EACH = (
    "WITH " + _LINES + _PICK_ONE_SHARD_EACH + _ADMITTED_ORDER_AFTER_PICK
)
ADMITTED_ORDER_FROM_SHARDS_IN_ORDER = (
    "WITH " + _LINES + _PICK_SHARDS_IN_ORDER + _ADMITTED_ORDER_AFTER_PICK
)


@dataclass(frozen=True)
class OrderLine:
    ticket_type_id: int
    quantity: int


@dataclass(frozen=True)
class OrderAttempt:
    """What one order statement did: a booking's facts (`BookingAttempt`,
    where `is_plain_type` says every line was sellable), and which line's
    quota was short (1-based, None if none was), and the lines' prices."""

    booking: BookingAttempt
    short_line: int | None
    # Each line's unit price as the order took it, in the order asked (empty
    # when nothing was ordered).
    line_prices: tuple[int, ...] = ()


def place(
    session: Session,
    *,
    wait: bool,
    user_id: int,
    token_version: int,
    event_id: int,
    lines: list[OrderLine],
    max_seats_per_user: int,
    idempotency_key: str | None,
    request_hash: str | None,
    now: datetime,
    hold: bool = False,
    hold_seconds: int = 0,
    admission: QueueAdmission | None = None,
) -> OrderAttempt:
    """Place an order in one statement that is its own transaction (see the
    module's doc); writes nothing when any guard fails. Runs on a pooled
    connection of its own (`run_alone`): the session must not hold one."""
    params = {
        "user_id": user_id,
        "token_version": token_version,
        "event_id": event_id,
        "type_ids": [line.ticket_type_id for line in lines],
        "quantities": [line.quantity for line in lines],
        "seats": sum(line.quantity for line in lines),
        "cap": max_seats_per_user,
        "key": idempotency_key,
        "request_hash": request_hash,
        "topic": outbox.BOOKING_CONFIRMED,
        "now": now,
        "hold": hold,
        "hold_seconds": hold_seconds,
        **admission_params(admission),
    }
    statement = statement_for(
        wait=wait,
        admitted=admission is not None,
        plain=(ORDER_FROM_ONE_SHARD_EACH, ORDER_FROM_SHARDS_IN_ORDER),
        with_admission=(
            ADMITTED_ORDER_FROM_ONE_SHARD_EACH,
            ADMITTED_ORDER_FROM_SHARDS_IN_ORDER,
        ),
    )
    try:
        (row,) = run_alone(session, statement, params)
    except DBAPIError as exc:
        return OrderAttempt(booking=taken_or_raise(exc), short_line=None)
    return OrderAttempt(
        booking=attempt_from(row[:-2]),
        short_line=row[-1],
        line_prices=tuple(int(price) for price in row[-2] or ()),
    )


@dataclass(frozen=True)
class Line:
    ticket_type_id: int
    quantity: int
    unit_price_minor: int


_LINES_OF = text(
    """
    SELECT booking_id, ticket_type_id, quantity, unit_price_minor FROM order_lines
    WHERE booking_id = ANY(CAST(:ids AS bigint[]))
    ORDER BY booking_id, ticket_type_id
    """
)


def lines_of(session: Session, booking_ids: list[int]) -> dict[int, list[Line]]:
    """Each order's lines (a booking made before types existed has none)."""
    found: dict[int, list[Line]] = {booking_id: [] for booking_id in booking_ids}
    if not booking_ids:
        return found
    for row in session.execute(_LINES_OF, {"ids": booking_ids}):
        found[row[0]].append(Line(int(row[1]), int(row[2]), int(row[3] or 0)))
    return found


def ticket_lines(
    session: Session, *, booking_id: int, event_id: int, seats: int
) -> tuple[tuple[int, int], ...]:
    """(ticket type id, quantity) of each line, as a ticket code names them; a
    booking made before types counts as its seats of the event's default type."""
    from ticketmania.db import ticket_types

    lines = tuple(
        (line.ticket_type_id, line.quantity)
        for line in lines_of(session, [booking_id])[booking_id]
    )
    if lines:
        return lines
    default = ticket_types.default_of(session, event_id)
    return ((default.id if default is not None else 0, seats),)


@dataclass(frozen=True)
class LineCancellation:
    event_id: int
    # The line's quantity and its price then (what is owed back).
    quantity: int
    amount_minor: int


_LOCK_LINE = text(
    """
    SELECT l.quantity, l.unit_price_minor, b.status, b.user_id, b.event_id,
           e.event_date > :now AND e.cancelled_at IS NULL,
           (SELECT count(*) FROM booking_lines WHERE booking_id = b.id
            AND cancelled_at IS NULL),
           EXISTS (SELECT 1 FROM checkins WHERE booking_id = b.id),
           e.buyers_cancel_lines
    FROM bookings AS b
    JOIN events AS e ON e.id = b.event_id
    JOIN booking_lines AS l ON l.booking_id = b.id AND l.ticket_type_id = :type_id
      AND l.cancelled_at IS NULL
    WHERE b.id = :booking_id
    FOR UPDATE OF b, l
    """
)

_GIVE_LINE_BACK = text(
    """
    WITH event_shard AS (
      UPDATE seat_shards AS s SET available = s.available + :quantity
      FROM events AS e
      WHERE e.id = :event_id AND s.event_id = e.id
        AND s.shard = mod(CAST(:booking_id AS bigint), e.shard_count)
    ), takes AS (
      DELETE FROM booking_quota_takes
      WHERE booking_id = :booking_id AND ticket_type_id = :type_id
      RETURNING quota_id, seats
    ), quota_shards_back AS (
      UPDATE quota_shards AS s
      SET available = s.available + CASE WHEN s.closed THEN 0 ELSE takes.seats END
      FROM takes, quotas AS q
      WHERE q.id = takes.quota_id AND s.quota_id = q.id
        AND s.shard = mod(CAST(:booking_id AS bigint), q.shard_count)
    ), line AS (
      UPDATE booking_lines SET cancelled_at = :now
      WHERE booking_id = :booking_id AND ticket_type_id = :type_id
    ), allowance AS (
      UPDATE user_event_seats SET seats = seats - :quantity
      WHERE user_id = :user_id AND event_id = :event_id
    )
    UPDATE bookings SET seats_booked = seats_booked - :quantity WHERE id = :booking_id
    """
)


class LineNotCancellable(Exception):
    """Why a line cannot be cancelled alone (said to the caller as a 409)."""


class NotTheBuyersToCancel(Exception):
    """The event does not let its buyers cancel lines (a 403)."""


def cancel_line(
    session: Session,
    *,
    booking_id: int,
    ticket_type_id: int,
    now: datetime,
    buyer_id: int | None = None,
) -> LineCancellation | None:
    """Cancel one line of a confirmed order of several: its seats back to the
    event's shard and to exactly the quotas that line took from (its takes,
    then gone), the user's count and the order's seats down. None: the order
    has no such live line, or (`buyer_id`: asked by a buyer, not an admin) is
    not that buyer's. Locks the event's shard first, then the quotas'
    (in quota order), then the order's row, as a cancellation does; the caller
    commits."""
    event_id = session.scalar(
        text("SELECT event_id FROM bookings WHERE id = :id"), {"id": booking_id}
    )
    if event_id is None:
        return None
    session.execute(
        text(
            "SELECT 1 FROM seat_shards AS s JOIN events AS e ON e.id = s.event_id "
            "WHERE e.id = :event_id AND s.shard = mod(CAST(:booking_id AS bigint), "
            "e.shard_count) FOR UPDATE OF s"
        ),
        {"event_id": event_id, "booking_id": booking_id},
    )
    session.execute(
        text(
            "SELECT 1 FROM quota_shards AS s JOIN quotas AS q ON q.id = s.quota_id "
            "JOIN booking_quota_takes AS k ON k.quota_id = q.id "
            "WHERE k.booking_id = :booking_id "
            "AND s.shard = mod(CAST(:booking_id AS bigint), q.shard_count) "
            "ORDER BY s.quota_id FOR UPDATE OF s"
        ),
        {"booking_id": booking_id},
    )
    row = session.execute(
        _LOCK_LINE, {"booking_id": booking_id, "type_id": ticket_type_id, "now": now}
    ).one_or_none()
    if row is None:
        return None
    (quantity, price, status, user_id, _, is_open, live_lines, checked_in,
     buyers_may) = row  # fmt: skip
    if buyer_id is not None:
        if user_id != buyer_id:
            return None
        if not buyers_may:
            raise NotTheBuyersToCancel(
                "This event's lines are cancelled by its organisers only"
            )
    if status != "confirmed":
        raise LineNotCancellable("Only a paid order's lines are cancelled one by one")
    if not is_open:
        raise LineNotCancellable("The event is cancelled or has already started")
    if live_lines < 2:
        raise LineNotCancellable("This is the order's last line: cancel the order")
    if checked_in:
        raise LineNotCancellable("The order is checked in at the door")
    session.execute(
        _GIVE_LINE_BACK,
        {
            "booking_id": booking_id,
            "type_id": ticket_type_id,
            "quantity": quantity,
            "event_id": event_id,
            "user_id": user_id,
            "now": now,
        },
    )
    return LineCancellation(
        event_id=int(event_id),
        quantity=int(quantity),
        amount_minor=int(quantity) * int(price),
    )


# An expired order taken again, all of it or nothing: its seats from the
# event's shards (locked in shard order) and what its lines took from each
# quota (its takes, still recorded) from that quota's shards, in (quota,
# shard) order, as the waiting pick takes them; its user's count up to the
# cap. Not while anyone waits in the event's line (the free seats are the
# line's), nor once the event is cancelled or started. The order is `held`
# again, ended, for its payment to pay it in the same transaction.
_RETAKE = text(
    """
    WITH target AS (
      SELECT b.id, b.user_id, b.event_id, b.seats_booked
      FROM bookings AS b JOIN events AS e ON e.id = b.event_id
      WHERE b.id = :booking_id AND b.status = 'expired'
        AND e.cancelled_at IS NULL AND e.event_date > :now
        AND NOT EXISTS (SELECT 1 FROM waitlist_entries AS w
                        WHERE w.event_id = b.event_id AND w.status = 'waiting')
    ), event_locked AS (
      SELECT s.shard, s.available
      FROM seat_shards AS s JOIN target ON s.event_id = target.event_id
      WHERE s.available > 0
      ORDER BY s.shard
      FOR UPDATE OF s
    ), event_pick AS (
      SELECT shard, available, least(available, need - before) AS seats
      FROM (
        SELECT l.shard, l.available, target.seats_booked AS need,
               coalesce(sum(l.available) OVER (ORDER BY l.shard
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
               sum(l.available) OVER () AS total
        FROM event_locked AS l CROSS JOIN target
      ) AS running
      WHERE before < need AND total >= need
    ), needs AS (
      SELECT quota_id, CAST(sum(seats) AS int) AS seats FROM booking_quota_takes
      WHERE booking_id = :booking_id GROUP BY quota_id
    """
    + _QUOTA_SHARDS_IN_ORDER
    + """    ), enough AS (
      SELECT 1 WHERE EXISTS (SELECT 1 FROM event_pick)
        AND (SELECT count(DISTINCT quota_id) FROM quota_pick) = (SELECT count(*) FROM needs)
    ), allowance AS (
      INSERT INTO user_event_seats AS u (user_id, event_id, seats)
      SELECT user_id, event_id, seats_booked FROM target WHERE EXISTS (SELECT 1 FROM enough)
      ON CONFLICT (user_id, event_id) DO UPDATE SET seats = u.seats + EXCLUDED.seats
      WHERE u.seats + EXCLUDED.seats <= :cap
      RETURNING u.seats
    ), taken AS (
      UPDATE seat_shards AS s SET available = p.available - p.seats
      FROM event_pick AS p, target
      WHERE s.event_id = target.event_id AND s.shard = p.shard
        AND EXISTS (SELECT 1 FROM allowance)
    ), quota_taken AS (
      UPDATE quota_shards AS s
      SET available = p.available - p.seats,
          closed = s.closed OR (q.close_when_sold_out AND p.available - p.seats = 0)
      FROM quota_pick AS p JOIN quotas AS q ON q.id = p.quota_id
      WHERE s.quota_id = p.quota_id AND s.shard = p.shard
        AND EXISTS (SELECT 1 FROM allowance)
    ), held_again AS (
      UPDATE bookings SET status = 'held', expires_at = :now
      WHERE id = :booking_id AND EXISTS (SELECT 1 FROM allowance)
      RETURNING id
    )
    SELECT count(*) FROM held_again
    """
)


def retake(
    session: Session, booking_id: int, *, max_seats_per_user: int, now: datetime
) -> bool:
    """Take an expired order's seats again (see _RETAKE); True when it did,
    and the order is `held` (ended) for its payment to pay now. Run with the
    event's admin-write lock and its shards locked (`payments.settlement`);
    the caller commits."""
    retaken = session.scalar(
        _RETAKE, {"booking_id": booking_id, "cap": max_seats_per_user, "now": now}
    )
    return bool(retaken)
