"""The booking statement as it was before ticket types (commit 1ad5b4e,
db/bookings.py BOOK_FROM_ONE_SHARD), frozen: the baseline `make bench` runs
beside today's statement in the same run, so "the one-type booking keeps its
speed" is a ratio measured, not remembered. Its comments are left out; the
SQL is as it was.
"""

_PICK_ONE_SHARD = """
pick AS (
  SELECT s.shard, s.available, CAST(:seats AS int) AS seats
  FROM seat_shards AS s
  WHERE s.event_id = :event_id AND s.available >= :seats
  ORDER BY random()
  LIMIT 1
  FOR UPDATE OF s SKIP LOCKED
), seats_left AS (
  SELECT coalesce(sum(available), 0) AS seats FROM seat_shards WHERE event_id = :event_id
)"""

_BOOK_AFTER_PICK = """
, prior AS (
  SELECT k.request_hash, b.id, b.user_id, b.event_id, b.seats_booked, b.status,
         b.created_at, b.cancelled_at, b.expires_at
  FROM idempotency_keys AS k JOIN bookings AS b ON b.id = k.booking_id
  WHERE k.user_id = :user_id AND k.key = CAST(:key AS varchar)
), line AS (
  SELECT 1 FROM waitlist_entries
  WHERE event_id = :event_id AND status = 'waiting' LIMIT 1
), event_now AS (
  SELECT e.id FROM events AS e
  WHERE e.id = :event_id AND e.cancelled_at IS NULL AND e.event_date > :now
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
), taken AS (
  UPDATE seat_shards AS s SET available = pick.available - pick.seats
  FROM pick
  WHERE s.event_id = :event_id AND s.shard = pick.shard
    AND EXISTS (SELECT 1 FROM allowance)
  RETURNING s.shard
), booking AS (
  INSERT INTO bookings (user_id, event_id, seats_booked, status, expires_at)
  SELECT :user_id, :event_id, :seats,
         CASE WHEN CAST(:hold AS boolean) THEN 'held' ELSE 'confirmed' END,
         CASE WHEN CAST(:hold AS boolean)
              THEN CAST(:now AS timestamptz)
                   + make_interval(secs => CAST(:hold_seconds AS double precision))
         END
  WHERE EXISTS (SELECT 1 FROM taken)
  RETURNING id, user_id, event_id, seats_booked, status, created_at, cancelled_at,
            expires_at
), key AS (
  INSERT INTO idempotency_keys (user_id, key, request_hash, booking_id)
  SELECT user_id, CAST(:key AS varchar), CAST(:request_hash AS varchar), id
  FROM booking WHERE CAST(:key AS varchar) IS NOT NULL
), message AS (
  INSERT INTO outbox (topic, payload)
  SELECT CAST(:topic AS varchar), jsonb_build_object('booking_id', id, 'user_id', user_id,
    'event_id', event_id, 'seats_booked', seats_booked)
  FROM booking WHERE NOT CAST(:hold AS boolean)  -- a hold's e-mail waits for its confirmation
)
SELECT booking.id, booking.user_id, booking.event_id, booking.seats_booked,
       booking.status, booking.created_at, booking.cancelled_at, booking.expires_at,
       prior.request_hash, prior.id, prior.user_id, prior.event_id, prior.seats_booked,
       prior.status, prior.created_at, prior.cancelled_at, prior.expires_at,
       EXISTS (SELECT 1 FROM users WHERE id = :user_id AND token_version = :token_version),
       event.id IS NOT NULL,
       coalesce(event.is_open, false),
       EXISTS (SELECT 1 FROM pick),
       EXISTS (SELECT 1 FROM event_now),
       EXISTS (SELECT 1 FROM allowance),
       (SELECT seats FROM seats_left),
       (SELECT seats FROM user_event_seats WHERE user_id = :user_id AND event_id = :event_id),
       EXISTS (SELECT 1 FROM line),
       EXISTS (SELECT 1 FROM bookings WHERE event_id = :event_id AND status = 'held'
               AND expires_at <= :now),
       (SELECT min(expires_at) FROM bookings WHERE event_id = :event_id
        AND status = 'held' AND expires_at > :now)
FROM (SELECT 1) AS one
LEFT JOIN booking ON true
LEFT JOIN prior ON true
LEFT JOIN (
  SELECT id, cancelled_at IS NULL AND event_date > :now AS is_open
  FROM events WHERE id = :event_id
) AS event ON true
"""

BOOK_FROM_ONE_SHARD_BEFORE_TYPES = "WITH " + _PICK_ONE_SHARD + _BOOK_AFTER_PICK
