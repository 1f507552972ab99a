"""BENCHMARKS.md's section on the waiting room (benchmarks/waiting_room.py)."""

from __future__ import annotations

from typing import Any

TAU_TARGET = 0.99
# Bookings a second at the database, against the inlet's places a second: a
# second's bookings may hold one step's late buyers and the next one's early.
RATE_TOLERANCE = 1.5

MEASURES = """
- **The waiting room against a surge** (`benchmarks/waiting_room.py`): a fresh
  `ticketmania serve` (the chosen workers, its scheduled jobs on: the inlet
  each second, on a thread of its own), 10,000 buyers of their own, ONE event
  of 1,000 seats. Room on (`admit_per_minute` 1,200, no `max_active_holds`):
  every buyer's `POST /events/{id}/queue` written at once over 200 keep-alive
  connections (HTTP/1.1 pipelining: all sent before the first is answered)
  into the pre-queue; then the on-sale, a second after the last join is
  answered (the admin moves `on_sale_at`), places them by the one random
  draw. A client then does what a buyer's page does: it reads
  `GET /events/{id}/queue` every 200 ms and, as `serving` passes positions,
  those buyers (in position order, 16 connections) read `GET .../queue/me`
  for the token and book one seat with it, until the seats are gone. Room
  off: the same 10,000 buyers' `POST /bookings` on another event of 1,000
  seats, written at once over the same 200 connections. Latencies run from
  the write of the whole surge to each answer (what a surge's client waits).
  Positions are read from Redis afterwards; bookings per second from
  `bookings.created_at`; Kendall's tau between the buyers' positions and the
  order their purchases were answered in."""


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(results: dict[str, Any]) -> str:
    room = results.get("waiting_room")
    if not room or "room_on" not in room:
        return "The waiting room: not measured in this run."
    joins, on, off = room["joins"], room["room_on"], room.get("room_off", {})
    five_xx = sum(
        n for status, n in joins["statuses"].items() if status.startswith("5")
    )
    rate_bound = on["inlet_per_second"] * RATE_TOLERANCE
    rows = [
        f"{room['buyers']:,} buyers, one event of {room['seats']:,} seats, through "
        f"`ticketmania serve --workers {room['workers']}`:",
        "",
        "| | room on | room off |",
        "|---|---|---|",
        f"| the surge's requests | {room['buyers']:,} joins | {room['buyers']:,} bookings |",
        f"| answered in | {joins['seconds_to_answer_all']:.1f} s | "
        f"{off.get('seconds_to_answer_all', 0):.1f} s |",
        f"| p50 / p99 | {joins['p50_ms']:,.0f} / {joins['p99_ms']:,.0f} ms | "
        f"{off.get('p50_ms', 0):,.0f} / {off.get('p99_ms', 0):,.0f} ms |",
        f"| answers | {_counts(joins['statuses'])} | {_counts(off.get('statuses', {}))} |",
        f"| seats sold | {on['sold']:,} in {on['seconds_to_sell_out']:.0f} s | "
        f"{off.get('sold', 0):,} |",
        f"| peak bookings a second at the database | **{on['bookings_per_second_peak']}** "
        f"(inlet {on['inlet_per_second']:.0f}/s, largest step {on['inlet_step_peak']}) | "
        f"{off.get('bookings_per_second_peak', 0)} |",
        f"| Kendall tau, position against purchase order | **{on['kendall_tau']:.4f}** | - |",
        "",
        f"Targets: every join answered, none 5xx ({five_xx} 5xx: "
        f"{_met(five_xx == 0 and sum(joins['statuses'].values()) == room['buyers'])}); "
        f"positions exactly 1..{room['buyers']:,} "
        f"({_met(not any('positions' in p for p in room.get('problems', [])))}); "
        f"exactly {room['seats']:,} sold ({_met(on['sold'] == room['seats'])}); "
        f"tau >= {TAU_TARGET} ({_met(on['kendall_tau'] >= TAU_TARGET)}); "
        f"peak bookings a second <= {RATE_TOLERANCE}x the inlet's rate, {rate_bound:.0f} "
        f"({_met(on['bookings_per_second_peak'] <= rate_bound)}).",
    ]
    return "\n".join(rows)


def _counts(statuses: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items()))


def decision(results: dict[str, Any]) -> str:
    room = results.get("waiting_room")
    if not room or "room_on" not in room:
        return ""
    on, off = room["room_on"], room.get("room_off", {})
    return (
        "- **The waiting room inside the product** (Redis for the queue, the "
        "inventory's own statement for the admission): with the room on, the "
        f"database saw at most {on['bookings_per_second_peak']} bookings a second "
        f"(the inlet lets in {on['inlet_per_second']:.0f}), against "
        f"{off.get('bookings_per_second_peak', 0)} with it off, and the seats went "
        f"in queue order (tau {on['kendall_tau']:.3f}). The inlet gives a "
        "second's worth of places at a time (in AWS a run each minute that "
        "sweeps for 55 s): a minute's worth at once would reach the database "
        "together and buy in any order."
    )
