"""What a booking and a cancellation send to Postgres, and what of it runs
while seats are held: counted at the driver, through the Lambda handlers,
each request warm (its connection open).

The engine's connection class (db/driver.py) is wrapped where every statement
leaves it: `execute_simple` (the simple protocol: BEGIN), `execute_unnamed` (a
statement with parameters, and COMMIT / ROLLBACK), `execute_named` (a prepared
statement's run) and `prepare_statement` (nothing of ours sends these two
now); each wait for the server (`handle_messages`) is one round trip. This sees more than wrapping
`legacy.PreparedStatement.run` and `legacy.Cursor.execute` would:
`Connection.commit()` and `rollback()` go straight to `execute_unnamed`.

Seats are held from the statement that locks a seat shard (FOR UPDATE of
seat_shards, or UPDATE seat_shards) until its transaction ends: at the end of
that statement in autocommit, else at COMMIT / ROLLBACK. Every statement is
one round trip (db/driver.py), in which its lock is taken. A booking statement that found no free shard held nothing: its result
says so (`has_seats`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from ticketmania.db.bookings import (
    ADMITTED_BOOK_FROM_ONE_SHARD,
    ADMITTED_BOOK_FROM_SHARDS_IN_ORDER,
    BOOK_FROM_ONE_SHARD,
    BOOK_FROM_SHARDS_IN_ORDER,
    CANCEL_BOOKING,
)
from ticketmania.db.driver import Connection as CoreConnection
from ticketmania.db.server_functions import kept_statements, server_form

_LOCKS_SEATS = re.compile(
    r"seat_shards\b[^;]*\bFOR UPDATE\b|\bUPDATE\s+seat_shards\b",
    re.IGNORECASE | re.DOTALL,
)
_BOOKING_STATEMENTS = {
    BOOK_FROM_ONE_SHARD: "booking statement, fast pick (one free shard, SKIP LOCKED)",
    BOOK_FROM_SHARDS_IN_ORDER: "booking statement, waiting pick (shards in order)",
    ADMITTED_BOOK_FROM_ONE_SHARD: "booking statement with an admission, fast pick",
    ADMITTED_BOOK_FROM_SHARDS_IN_ORDER: "booking statement with an admission, waiting pick",
}
_LABELS = {
    **_BOOKING_STATEMENTS,
    CANCEL_BOOKING: "cancellation statement (the booking's shard, FOR UPDATE)",
}
_HAS_SEATS = 18  # the booking statement's column saying the pick held seats
# What the server receives for a kept statement (a call of its function, or its
# text unnamed), read back as the statement it is.
_SENT_AS = {
    sent: statement
    for statement in kept_statements()
    for sent in (server_form(statement).call, server_form(statement).sql)
}


@dataclass
class Entry:
    kind: str  # simple, unnamed, named (prepared run), prepare
    sql: str
    autocommit: bool
    round_trips: int = 0
    held_round_trips: int = 0
    locks: bool = False

    @property
    def label(self) -> str:
        if self.sql in _LABELS:
            return _LABELS[self.sql]
        words = " ".join(self.sql.split())
        return words if len(words) <= 60 else words[:57] + "..."

    @property
    def is_held(self) -> bool:
        return self.held_round_trips > 0


@dataclass
class StatementLog:
    """Statements the current thread sends while the log is open."""

    thread: int = field(default_factory=threading.get_ident)
    entries: list[Entry] = field(default_factory=list)

    def __enter__(self) -> StatementLog:
        self._originals: dict[str, Callable[..., Any]] = {}
        self._holding: dict[int, bool] = {}
        self._current: Entry | None = None
        # What the class defines itself (the rest it inherits from pg8000).
        self._own = set(vars(CoreConnection))
        for name, kind in (
            ("execute_simple", "simple"),
            ("execute_unnamed", "unnamed"),
            ("execute_named", "named"),
            ("prepare_statement", "prepare"),
        ):
            self._wrap(name, kind)
        original_handle = CoreConnection.handle_messages
        self._originals["handle_messages"] = original_handle
        log = self

        def handle_messages(connection: CoreConnection, context: Any) -> Any:
            entry = log._current
            if entry is not None and threading.get_ident() == log.thread:
                entry.round_trips += 1
                # Each statement is one round trip: its lock is taken in it.
                if log._holding.get(id(connection)) or entry.locks:
                    entry.held_round_trips += 1
            return original_handle(connection, context)

        CoreConnection.handle_messages = handle_messages
        return self

    def _wrap(self, name: str, kind: str) -> None:
        original = getattr(CoreConnection, name)
        self._originals[name] = original
        log = self

        def wrapper(connection: CoreConnection, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != log.thread or log._current is not None:
                return original(connection, *args, **kwargs)
            sent = args[4] if kind == "named" else args[0]
            sql = _SENT_AS.get(str(sent), str(sent))
            entry = Entry(
                kind=kind, sql=str(sql), autocommit=not connection._in_transaction
            )
            entry.locks = kind != "prepare" and bool(_LOCKS_SEATS.search(entry.sql))
            ends = entry.sql.strip().lower() in ("commit", "rollback")
            log._current = entry
            try:
                context = original(connection, *args, **kwargs)
            finally:
                log._current = None
                log.entries.append(entry)
            if entry.locks and entry.sql in _BOOKING_STATEMENTS:
                rows = getattr(context, "rows", None) or []
                if not (rows and rows[0][_HAS_SEATS]):
                    entry.held_round_trips = 0  # found no free shard: held nothing
                    entry.locks = False
            if entry.locks and not entry.autocommit:
                log._holding[id(connection)] = True
            if ends:
                log._holding[id(connection)] = False
            return context

        setattr(CoreConnection, name, wrapper)

    def __exit__(self, *exc: object) -> None:
        for name, original in self._originals.items():
            if name in self._own:
                setattr(CoreConnection, name, original)
            else:  # inherited from pg8000's classes: theirs again
                delattr(CoreConnection, name)

    def summary(self) -> dict[str, Any]:
        """Counts of what ran; a prepare (once per pooled connection, on its first
        use of a statement) is counted apart."""
        runs = [e for e in self.entries if e.kind != "prepare"]
        prepares = [e for e in self.entries if e.kind == "prepare"]
        return {
            "statements": len(runs),
            "round_trips": sum(e.round_trips for e in runs),
            "held_statements": sum(1 for e in runs if e.is_held),
            "held_round_trips": sum(e.held_round_trips for e in runs),
            "prepares": len(prepares),
            "prepare_round_trips": sum(e.round_trips for e in prepares),
            "detail": [
                {
                    "statement": e.label,
                    "kind": e.kind,
                    "autocommit": e.autocommit,
                    "round_trips": e.round_trips,
                    "held_round_trips": e.held_round_trips,
                }
                for e in self.entries
            ],
        }


def _call(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.cpu import lambda_like_output
    from tests.lambda_events import LambdaContext

    with lambda_like_output():
        return handler(event, LambdaContext())  # type: ignore[no-any-return]


def measure(*, token: str, user_id: int) -> dict[str, Any]:
    """Statements of: a booking whose fast pick finds a shard; one whose fast pick
    finds every shard held (the waiting pick follows); a cancellation."""
    from benchmarks import seed
    from benchmarks.cpu import booking_events
    from bookings.app import handler as bookings_handler
    from tests.lambda_events import load_event, with_overrides
    from ticketmania.db.engine import get_engine

    del user_id
    results: dict[str, Any] = {}
    event_id = seed.create_event(total_seats=10_000)
    (booking_event,) = booking_events([token], event_id)
    # Warm: the connection exists and has prepared the statement.
    warm = _call(bookings_handler, booking_event)
    assert warm["statusCode"] == 201, warm
    with StatementLog() as log:
        response = _call(bookings_handler, booking_event)
    assert response["statusCode"] == 201, response
    results["booking"] = log.summary()
    booking_id = int(json.loads(response["body"])["id"])

    # Every shard of a one-shard event held by another transaction: the fast
    # pick skips it, the waiting pick waits for it, then books.
    small = seed.create_event(total_seats=10)
    (small_event,) = booking_events([token], small)
    assert (
        _call(bookings_handler, small_event)["statusCode"] == 201
    )  # warm both statements' paths
    outcome: dict[str, Any] = {}
    with get_engine().connect() as blocker:
        blocker.execute(
            text("SELECT available FROM seat_shards WHERE event_id = :e FOR UPDATE"),
            {"e": small},
        )

        def book_while_blocked() -> None:
            with StatementLog() as blocked_log:
                outcome["response"] = _call(bookings_handler, small_event)
            outcome["log"] = blocked_log

        worker = threading.Thread(target=book_while_blocked)
        worker.start()
        waited = _wait_for_lock_waiter(blocker_pid=_pid(blocker))
        blocker.commit()
    worker.join(10)
    if outcome.get("response", {}).get("statusCode") != 201:
        raise RuntimeError(
            f"the blocked booking did not book: {outcome.get('response')}"
        )
    results["booking_waiting_pick"] = outcome["log"].summary()
    results["booking_waiting_pick"]["waited_for_lock"] = waited

    def cancel(booking: int) -> dict[str, Any]:
        return with_overrides(
            load_event("http_api_bookings_cancel"),
            token=token,
            path_parameters={"id": str(booking)},
        )

    # Warm: cancel the warm-up booking first, so the statement is prepared.
    warm_id = int(json.loads(warm["body"])["id"])
    assert _call(bookings_handler, cancel(warm_id))["statusCode"] == 200
    with StatementLog() as log:
        response = _call(bookings_handler, cancel(booking_id))
    assert response["statusCode"] == 200, response
    results["cancel"] = log.summary()
    return results


def _pid(connection: Any) -> int:
    return int(connection.scalar(text("SELECT pg_backend_pid()")))


def _wait_for_lock_waiter(*, blocker_pid: int, timeout: float = 1.5) -> bool:
    """Wait until some session waits for the blocker's lock (the waiting pick)."""
    from ticketmania.db.engine import get_engine

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_engine().connect() as probe:
            waiting = probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :pid = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": blocker_pid},
            )
        if waiting:
            return True
        time.sleep(0.02)
    return False
