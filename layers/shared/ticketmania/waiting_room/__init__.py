"""The waiting room of an on-sale: a fair queue in Redis, an inlet that lets
buyers in at a bounded rate, and admissions that work once.

- `queue.py`: positions, the pre-queue's shuffle and `serving`, each change
  one Lua script (atomic in Redis, one round trip).
- `tokens.py`: the admission token (a JWT signed with the ticket keys, so
  the JWK Set at /tickets/keys verifies it).
- `inlet.py`: the scheduled step that advances `serving`.

The inventory never depends on Redis: while a room is on, the booking and
order statements refuse a request without a verified admission
(`events.admission_required`), and use the admission up in the same
statement (`admission_uses`). Redis down stops new admissions (503), never
the sale of ones already made.
"""
