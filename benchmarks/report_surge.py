"""BENCHMARKS.md's section on the surge past max_connections (benchmarks/surge.py)."""

from __future__ import annotations

from typing import Any

from benchmarks.timing import median

THROUGHPUT_TARGET = 0.8

MEASURES = """- **A surge past max_connections** (`benchmarks/surge.py`): simulated Lambda
  containers, each a thread with its own engine of one connection built as in
  Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), answering through BookingsFunction's
  handler fed API Gateway events, back to back: 60% bookings of one seat (a new
  Idempotency-Key each), 20% holds, 20% cancellations of one of its own, each
  container its own user, on ONE event of 50 million seats. The containers are
  spread over the same four processes in every run; their first request (the
  cold start, which opens the connection) is not timed. Runs: max_connections
  / 2 containers straight to Postgres (the baseline), 5 x max_connections
  through PgBouncer (Debian's, transaction mode, a pool far smaller than the
  clients), alternating; then 5 x max_connections straight to Postgres, once.
  Bookings/s counts the 201s of requests sent in the window; p50/p99 are of
  every booking request sent in it. After each run the event's seats are
  checked against its bookings and the bookings against the answers.
  Beside it, pgbench runs the booking statement as a call of its server
  function and as its text unnamed (`-M extended`), and its text prepared
  (`-M prepared`, what the functions sent before), on 64 events, alternating."""


def _run_row(label: str, run: dict[str, Any]) -> str:
    statuses = run["statuses"]
    unavailable = sum(n for key, n in statuses.items() if key.endswith(" 503"))
    problems = [
        f"{run[name]} {words}"
        for name, words in (
            ("seats_lost", "seats lost"),
            ("answered_but_missing", "answered bookings missing"),
            ("unanswered_bookings", "bookings nobody was told of"),
            ("live_bookings_mismatch", "live bookings unlike the answers"),
            ("unavailable_without_retry_after", "503s without Retry-After"),
        )
        if run[name]
    ]
    return (
        f"| {label} | {run['containers']:,} | **{run['bookings_per_second']:,.0f}** | "
        f"{run['booking_p50_ms']:,.0f} / {run['booking_p99_ms']:,.0f} | "
        f"{run['internal_errors']} | {unavailable:,} | "
        f"{'; '.join(problems) if problems else 'none: seats and bookings agree with the answers'} |"
    )


def section(results: dict[str, Any]) -> str:
    surge = results.get("surge")
    if surge is None:
        why = results.get("failures", {}).get("surge", "not run")
        return f"**Not measured in this run: {why}**"
    runs = surge["runs"]
    labels = {
        "direct": "directly (baseline)",
        "pooled": f"through PgBouncer {surge['pgbouncer']}, {surge['pool_size']} server connections",
        "direct_overload": "directly, past max_connections",
    }
    rows = [
        f"max_connections {surge['max_connections']}; {surge['seconds']:.0f} s per run, "
        f"{surge['rounds']} round(s) of direct and pooled alternating:",
        "",
        "| run | containers | bookings/s | p50 / p99 ms | 500s | 503s | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, label in labels.items():
        for number, run in enumerate(runs.get(kind, []), start=1):
            suffix = f" (round {number})" if len(runs[kind]) > 1 else ""
            rows.append(_run_row(label + suffix, run))
    ratio = surge["throughput_ratio"]
    pooled_errors = sum(r["server_errors"] for r in runs["pooled"])
    pooled_lost = sum(r["seats_lost"] for r in runs["pooled"])
    overload = runs.get("direct_overload", [])
    rows += [
        "",
        f"Through the pooler at 5 x max_connections: **{ratio:.2f}x** the direct "
        f"run's bookings/s (target ≥ {THROUGHPUT_TARGET}x: "
        f"{'met' if ratio >= THROUGHPUT_TARGET else '**missed**'}), "
        f"{pooled_errors} errors, {pooled_lost} seats lost (target 0 and 0: "
        f"{'met' if pooled_errors == 0 and pooled_lost == 0 else '**missed**'}).",
    ]
    if overload:
        internal = sum(r["internal_errors"] for r in overload)
        rows.append(
            f"Directly at 5 x max_connections: {internal} answers 500 (target 0: "
            f"{'met' if internal == 0 else '**missed**'}); every refused connection "
            "a 503 `unavailable` with Retry-After, and nothing lost."
        )
    protocols = results.get("statement_protocols")
    if protocols:
        tps = protocols["tps"]
        rows += [
            "",
            f"The booking statement at the database ({protocols['clients']} pgbench clients, "
            f"{protocols['rounds']} rounds of {protocols['seconds']:.0f} s, 64 events), "
            "median TPS:",
            "",
            "| sent as | TPS | vs prepared |",
            "|---|---|---|",
            f"| a call of its server function, unnamed (what the functions send) | "
            f"{median(tps['function']):,.0f} | **{protocols['function_vs_prepared']:.2f}x** |",
            f"| its text, unnamed (parsed and planned on every call) | "
            f"{median(tps['unnamed']):,.0f} | {protocols['unnamed_vs_prepared']:.2f}x |",
            f"| its text prepared once per connection, named (before; wrong behind a pooler) | "
            f"{median(tps['prepared']):,.0f} | 1.00x |",
        ]
    return "\n".join(rows)


def decision(results: dict[str, Any]) -> str:
    surge = results.get("surge")
    protocols = results.get("statement_protocols")
    if surge is None:
        return ""
    cost = ""
    if protocols:
        cost = (
            f" Sent as its text, unnamed, the booking ran at "
            f"{protocols['unnamed_vs_prepared']:.2f}x a prepared statement's rate at "
            "the database (it is parsed and planned on every call); as a call of a "
            "server function of its text, whose plan the server keeps, at "
            f"{protocols['function_vs_prepared']:.2f}x: so the buyer's one-statement "
            "transactions are server functions, made by each migration."
        )
    return (
        "- **Unnamed statements, one round trip each, no session state**: "
        f"through a transaction pooler {surge['runs']['pooled'][0]['containers']:,} "
        f"containers booked at {surge['throughput_ratio']:.2f}x the rate of "
        f"{surge['runs']['direct'][0]['containers']} connecting directly, with no "
        "error and no seat lost (a named statement is another client's behind "
        f"PgBouncer 1.18, and pins under RDS Proxy).{cost}"
    )
