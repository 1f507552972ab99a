"""The prose of BENCHMARKS.md around the tables; every figure in it comes from the run."""

from __future__ import annotations

import re
from typing import Any

from benchmarks import report_orders, report_room, report_surge


def header(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    minutes, seconds = divmod(int(results.get("total_seconds", 0)), 60)
    load_start = ", ".join(f"{v:.1f}" for v in machine.get("load_average_start", ()))
    load_end = ", ".join(f"{v:.1f}" for v in machine.get("load_average_end", ()))
    settings = machine.get("postgres_settings", {})
    quick = (
        "\n\n**A `--quick` smoke run: too short to quote.**"
        if results.get("quick")
        else ""
    )
    return f"""# Benchmarks

`make bench` runs everything below in one go against the Postgres the tests
use (a fresh database) and a private `redis-server`, and rewrites this file,
[`docs/bookings-vs-concurrency.png`](docs/bookings-vs-concurrency.png) and
`benchmarks/results.json` (every raw figure) from that one run. It installs
`wrk` and `pgbench` when they are missing and it runs as root (else it says
what to install), and matplotlib into `.venv`. Progress goes to stderr.
`python -m benchmarks --render benchmarks/results.json` writes this file and
the chart again from those figures, measuring nothing.

This run: commit {machine.get("commit", "?")} (with {machine.get("uncommitted_files", "?")} files
changed in the working tree by work in progress), {machine.get("date", "?")}, {machine.get("cpus", "?")} cores,
Python {machine.get("python", "?")}, Postgres {machine.get("postgres", "?")}
(max_connections {settings.get("max_connections", "?")}, synchronous_commit
{settings.get("synchronous_commit", "?")}, shared_buffers {settings.get("shared_buffers", "?")} blocks of 8 kB),
{minutes} min {seconds:02d} s in all; load average {load_start} at the start and
{load_end} at the end (other sessions share the machine). The load generator
(wrk, pgbench, the flash sale's client), the servers, Postgres and Redis all
share the same cores, so absolute figures say little about Lambda: read the
comparisons, each against a baseline measured in the same run, with variants
alternating round by round and medians reported.{quick}
"""


def measures(results: dict[str, Any]) -> str:
    return (
        """- **Bookings against concurrency** (`benchmarks/http_load.py`, `wrk.py`):
  wrk with a Lua script that holds 500 users' tokens and sends
  `POST /bookings {"event_id": E, "seats_booked": 1}` with the next user's
  token on every request, against `ticketmania serve --workers N`
  (`python -m localdev.cli serve`, the benchmark's database and Redis,
  `MAX_SEATS_PER_USER_PER_EVENT=100000` so the cap never refuses) on ONE event
  of 50 million seats in 64 shards, never sold out, and the booking rate limit
  (`RATE_LIMIT_BOOKING`) raised out of reach (each booking still runs its
  Redis script). The script counts answers by status (2xx, 409, 429, 503,
  other); bookings/s counts 2xx only.
  Beside it, with the same `--workers`: a bare FastAPI app (`benchmarks/bare_app.py`,
  one `async def` POST route parsing the same body into a pydantic model and
  returning a dict) under uvicorn with TCP_NODELAY, fed the same requests; and pgbench with as
  many clients running the smallest booking transaction on ONE row
  (`BEGIN; UPDATE seat_shards SET available = available - 1 WHERE event_id = :e
  AND shard = 0 AND available >= 1; INSERT INTO bookings ...; COMMIT`, prepared):
  the old design's one hot row, the most a single row lets through. The worker
  count is chosen first, at 32 connections.
- **TCP_NODELAY** (`benchmarks/nodelay.py`): `ticketmania serve` makes its
  listening socket itself with TCP_NODELAY; the bare app runs under uvicorn
  through a launcher that sets TCP_NODELAY on accepted connections, so that
  the baseline does not carry the ~40 ms per response that uvicorn's own
  multi-worker socket costs. Once, at one connection, the bare app also runs
  as uvicorn binds the socket, to show that cost beside the server's figure.
- **CPU per warm invocation** (`benchmarks/cpu.py`): the Lambda handlers called in
  process with the samples of `events/` (built before the timed loop), each call
  timed with `time.process_time()` (this process's CPU: Postgres and Redis are
  other processes), the four handlers alternating round by round, medians. EMF
  metrics are flushed as in Lambda, to /dev/null. The booking books 1 seat on
  an event with seats to spare, as 20 different users in turn.
- **Statements while seats are held** (`benchmarks/lock_statements.py`): pg8000's core
  connection wrapped where every statement leaves it (`execute_simple`,
  `execute_unnamed`, `execute_named`, `prepare_statement`), each wait for the
  server counted as a round trip, while the handler serves one warm request
  (a booking and a cancellation were served before the ones measured).
  Seats are held from the statement that locks a shard (FOR UPDATE of
  `seat_shards`, or UPDATE of it) to the end of its transaction. The waiting
  pick is forced by holding the only shard of a small event in another
  transaction until the booking is seen waiting for it.
- **Hot versus spread** (`benchmarks/hot_spread.py`): pgbench `-M prepared`
  (the ratio is about row locks; what the functions' unnamed statements cost
  against prepared ones is measured apart, in section 8)
  running `BOOK_FROM_ONE_SHARD` itself: its `:name` placeholders become pgbench
  variables, `:now` is `now()`, no Idempotency-Key, a cap of 100,000, and each
  client books for users of its own (100 per client, one at random per
  transaction), so clients never share a user's cap row. Hot: one event with
  64 shards; spread: 64 such events, one at random per transaction. The same
  for the one-row transaction above, on one event's row or 64 events' rows.
- **Flash sale** (`benchmarks/flash_sale.py`): an asyncio keep-alive HTTP client
  (cheaper per request than wrk's Lua can be made to stop at an exact count)
  sends exactly 10,000 attempts over 64 connections, 500 users in turn, at one
  event of 1,000 seats, noting when each was sent and answered. Sold out is
  the moment the last successful booking was answered; refusals/s counts the
  409s sent after it, over the time until the last answer. Then the database
  is checked: confirmed seats, unsold seats, the per-user counts; and the
  server is stopped, so that its connections flush their statistics, and the
  transactions Postgres ended during the sale are counted
  (`pg_stat_database`): bookings and refusals that reached the database.
- **Listing cache** (`benchmarks/listing.py`): one invocation of EventsFunction's
  handler with `events/http_api_events_list.json` over 100,000 events (one
  shard each), wall time, cache hit against the cache disabled.
- **Cold starts, memory and sizes** (`benchmarks/artefact.py`, also `make
  coldstart`): what `sam build` made (`make bench` builds first), each API
  function started in fresh `python3.12 -I -S -B` processes as Lambda does
  (only its build folder and layers on the path) that import the handler and
  answer one request that reaches the database; wall time of the whole process,
  median, variants interleaved run by run. The baselines: a bare FastAPI +
  Mangum function with one route, compiled like ours and on the same layer,
  and the same built as `sam build` makes it by default (no bytecode anywhere).
  Then each under a cgroup CPU quota equal to Lambda's share at 512, 1,024
  and 1,769 MB (memory / 1,769 of one core), where BookingsFunction also
  answers 20 bookings after its first answer (their median is the warm
  booking); the cost per million bookings is that latency, billed per ms, at
  Lambda's x86 price (USD 0.0000166667 per GB-second, 0.20 per million
  requests).
"""
        + report_surge.MEASURES
        + report_orders.MEASURES
        + report_room.MEASURES
    )


def _pct(a: float, b: float) -> str:
    return f"{(a / b - 1) * 100:+.0f}%"


def _overlap(rows: dict[int, dict[str, Any]], best: int) -> str:
    """Whether this run can tell the best count from the others."""
    low, high = (
        min(rows[best]["per_second_rounds"]),
        max(rows[best]["per_second_rounds"]),
    )
    tied = [
        str(w)
        for w, row in sorted(rows.items())
        if w != best and max(row["per_second_rounds"]) >= low
    ]
    if not tied:
        return "Every round of the best count beat every round of the others."
    return (
        f"But its rounds ({low:,.0f}-{high:,.0f}/s) overlap those of "
        f"{' and '.join(tied)} worker(s): this run cannot tell them apart, and "
        "another run may rank them the other way; only counts whose rounds all "
        "fall below are clearly worse."
    )


def _workers_decision(results: dict[str, Any]) -> str:
    decision = results.get("workers")
    if not decision:
        return "- **`--workers`**: not decided in this run (the measurement failed)."
    rows = {int(w): row for w, row in decision["table"].items()}
    best = decision["best"]
    default = decision.get("cli_default")
    top = rows[best]["per_second"]
    others = ", ".join(
        f"{w}: {rows[w]['per_second']:,.0f}/s ({_pct(rows[w]['per_second'], top)})"
        for w in sorted(rows)
        if w != best
    )
    from localdev.cli import DEFAULT_WORKERS

    if best == DEFAULT_WORKERS:
        agrees = "the CLI's default"
    else:
        agrees = f"the CLI's default is {DEFAULT_WORKERS}"
    if default is not None and default != DEFAULT_WORKERS:
        # The default was changed after this run, by what the run measured.
        agrees += f"; it was {default} when this run was made"
    below = ""
    rounds = {w: row["per_second_rounds"] for w, row in rows.items()}
    if (
        default in rounds
        and default != best
        and max(rounds[default]) < min(rounds[best])
    ):
        below = (
            f" Every round of the then-default {default} workers fell below "
            f"every round of {best} in this run."
        )
    return f"""- **`--workers {best}`** ({agrees}). At {decision["connections"]}
  connections, {best} workers did {top:,.0f} bookings/s (median of
  {decision["rounds"]} rounds); the other counts: {others}. {_overlap(rows, best)}{below}
{_nodelay_decision(results)}"""


def _nodelay_decision(results: dict[str, Any]) -> str:
    one = results.get("one_connection")
    if not one:
        return "- **TCP_NODELAY**: not measured in this run."
    server = one["booking"]["p50_ms"]
    bare, as_bound = one["bare"]["p50_ms"], one["bare_as_uvicorn_binds_it"]["p50_ms"]
    history = (
        "- **TCP_NODELAY**: an earlier run of this benchmark found that "
        "`ticketmania serve` with more than one worker lost ~44 ms per response "
        "to Nagle's algorithm and the client's delayed ACK (uvicorn bound the "
        "shared socket with protocol 0, so asyncio never set TCP_NODELAY); "
        "localdev/cli.py now makes the socket itself, as a TCP socket by "
        "protocol, so asyncio sets TCP_NODELAY on every connection it accepts "
        "(`tcp_listener`)."
    )
    if one["workers"] == 1:
        return (
            f"{history} With one worker uvicorn binds through the event loop, so "
            f"this run cannot show it: at one connection the server answers in p50 "
            f"{server:.2f} ms, the bare app in {bare:.2f} ms, and {as_bound:.2f} ms "
            "as uvicorn binds it."
        )
    verdict = (
        "the fix holds"
        if server < as_bound / 2
        else "**the server is no faster than the bare app with the 40 ms**"
    )
    return (
        f"{history} At one connection, with {one['workers']} workers, the server "
        f"answers a booking in p50 {server:.2f} ms, against {as_bound:.1f} ms for "
        f"the bare app as uvicorn binds the socket ({bare:.2f} ms with "
        f"TCP_NODELAY): {verdict}."
    )


def _shards_decision(results: dict[str, Any]) -> str:
    hs = results.get("hot_spread")
    curve = results.get("curve", {})
    parts = []
    if hs:
        statement = ", ".join(
            f"{hs['statement_ratio'][str(c)]:.2f}x" for c in hs["clients"]
        )
        one_row = ", ".join(
            f"{hs['one_row_ratio'][str(c)]:.2f}x" for c in hs["clients"]
        )
        clients = "/".join(str(c) for c in hs["clients"])
        lowest = min(hs["statement_ratio"][str(c)] for c in hs["clients"])
        below = [
            f"{ratio:.2f}x at {c} clients"
            for c in hs["clients"]
            for ratio in hs["statement_ratio_rounds"][str(c)]
            if ratio < 0.8
        ]
        verdict = (
            "meeting the ≥ 0.8 target"
            if lowest >= 0.8
            else f"**missing the ≥ 0.8 target** (lowest {lowest:.2f}x)"
        )
        if lowest >= 0.8 and below:
            verdict += (
                f" on the medians, though {len(below)} of the "
                f"{hs['rounds'] * len(hs['clients'])} rounds fell below it "
                f"({', '.join(below)})"
            )
        parts.append(
            f"At the database, the booking statement on ONE event of 64 shards runs at "
            f"{statement} of the same statement spread over 64 events ({clients} "
            f"clients), {verdict}. The old design's one-row transaction runs "
            f"at {one_row} of its spread self"
        )
        if lowest < 0.8:
            parts.append(_why_hot_loses(hs))
    booking = curve.get("booking", {})
    one_row_curve = curve.get("pgbench_one_row", {})
    if booking and one_row_curve:
        common = [
            c for c in curve["levels"] if str(c) in booking and str(c) in one_row_curve
        ]
        ahead = [
            c
            for c in common
            if booking[str(c)]["per_second"] >= one_row_curve[str(c)]["per_second"]
        ]
        high = max(common)
        line = (
            f"Through the whole HTTP path the booking server holds "
            f"{min(booking[str(c)]['per_second'] for c in curve['levels'] if str(c) in booking and c >= 4):,.0f}"
            f"-{max(booking[str(c)]['per_second'] for c in curve['levels'] if str(c) in booking):,.0f} bookings/s "
            f"from 4 to {max(int(c) for c in booking)} connections, while the bare one-row "
            f"transaction in pgbench falls from "
            f"{max(r['per_second'] for r in one_row_curve.values()):,.0f} to "
            f"{one_row_curve[str(high)]['per_second']:,.0f} tps at {high} clients"
        )
        if ahead:
            line += f" (the server outruns it from {min(ahead)} connections on)"
        parts.append(line)
    if not parts:
        return "- **Seats in shards**: not measured in this run."
    return (
        "- **One hot row replaced by seat shards** (the old guarded-UPDATE vs "
        "SELECT FOR UPDATE benchmark, `contention.py`, is gone with the design it "
        "compared: a booking no longer locks the event's row for update). "
        + ". ".join(parts)
        + ". The one-row transaction's throughput falls as clients queue on the "
        "row; the shards' does not."
    )


def _why_hot_loses(hs: dict[str, Any]) -> str:
    """Where hot spends its time that spread does not, from the sampled waits."""
    waits = hs.get("waits")
    if not waits:
        return "Why hot falls short was not sampled in this run"
    clients = str(max(hs["clients"]))
    hot, spread = waits["statement_hot"][clients], waits["statement_spread"][clients]
    _, wait = max((hot.get(w, 0) - spread.get(w, 0), w) for w in set(hot) | set(spread))
    top = max(spread, key=lambda w: spread[w])
    line = (
        f"Where hot falls short, at {clients} clients: its backends spent "
        f"{hot.get(wait, 0) * 100:.0f}% of the samples on {wait} against "
        f"{spread.get(wait, 0) * 100:.0f}% spread (both spent most on {top}: "
        f"{hot.get(top, 0) * 100:.0f}% / {spread[top] * 100:.0f}%)"
    )
    if wait == "LWLock:BufferContent":
        pages = hs["hot_shard_heap_pages"]
        line += (
            ". BufferContent is the lock on one buffer's contents, taken to read or "
            f"change a row in it: the hot event's 64 shards sit in {pages} heap "
            f"page{'s' if pages != 1 else ''}, and every booking of the event also "
            "share-locks its one events row, so its bookings meet on the same pages "
            "however many shards there are. Spreading the shard rows over more pages "
            "(a low fillfactor on seat_shards, or padding) is the next thing to try; "
            "not tried here"
        )
    return line


def _cpu_decision(results: dict[str, Any]) -> str:
    cpu = results.get("cpu")
    if not cpu:
        return "- **CPU per invocation**: not measured in this run."
    ms = cpu["cpu_ms"]
    booking, listing = cpu["booking_vs_post"], cpu["listing_vs_get"]

    def verdict(ratio: float, target: float) -> str:
        return "met" if ratio <= target else "**missed**"

    return (
        f"- **CPU per warm invocation**: a booking costs {ms['booking']:.2f} ms of "
        f"the function's CPU against {ms['post_baseline']:.2f} ms for a bare sync "
        f"POST route ({booking:.2f}x, target ≤ 3x: {verdict(booking, 3)}); a cached "
        f"listing {ms['listing']:.2f} ms against {ms['get_baseline']:.2f} ms for a bare "
        f"async GET ({listing:.2f}x, target ≤ 4x: {verdict(listing, 4)}). The bare sync "
        "route pays for a worker thread per invocation (Mangum runs each invocation "
        "as a new task; FastAPI runs sync routes in anyio's thread pool), which the "
        "product's async routes do not." + _booking_breakdown(cpu)
    )


def _booking_breakdown(cpu: dict[str, Any]) -> str:
    parts = cpu.get("booking_breakdown_ms")
    if not parts:
        return ""
    whole = parts["the whole invocation"]
    named = [f"{label} {ms:.3f} ms ({ms / whole:.0%})" for label, ms in parts.items()]
    top_level = sum(
        ms
        for label, ms in parts.items()
        if label != "the whole invocation" and not label.startswith("of which")
    )
    rest = whole - top_level
    return (
        " Where a warm booking's CPU goes (each part timed with process_time around "
        "its own calls, 1 seat, no key; means, outliers included, so the whole is "
        "above the median): "
        + "; ".join(named)
        + f"; the rest, {rest:.3f} ms ({rest / whole:.0%}), is Mangum's event "
        "translation and event loop, Starlette's middleware stack (the body limit, "
        "the response headers, errors) and Powertools' logger and metrics decorators. "
        "The token is read with one PyJWT parse (the key id is read from the header "
        "segment by hand, PyJWT's own header read was a second full parse)."
    )


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _held(summary: dict[str, Any]) -> str:
    """The statements that held seats, and how they ran."""
    held = [entry for entry in summary["detail"] if entry["held_round_trips"]]
    if not held:
        return "none"
    return "; ".join(
        f"`{entry['statement']}` ({'autocommit' if entry['autocommit'] else 'in a transaction'}, "
        f"{_n(entry['held_round_trips'], 'round trip')})"
        for entry in held
    )


def _statements_decision(results: dict[str, Any]) -> str:
    found = results.get("statements")
    if not found:
        return "- **Statements while seats are held**: not measured in this run."
    parts = []
    for name, label in (
        ("booking", "a warm booking"),
        ("booking_waiting_pick", "a booking whose fast pick finds every shard held"),
        ("cancel", "a warm cancellation"),
    ):
        summary = found.get(name)
        if not summary:
            continue
        parts.append(
            f"{label} sends {_n(summary['statements'], 'statement')} in "
            f"{_n(summary['round_trips'], 'round trip')} and holds seats in "
            f"{summary['held_statements']} of them, for "
            f"{_n(summary['held_round_trips'], 'round trip')}: {_held(summary)}"
        )
    return "- **Statements while seats are held**: " + "; ".join(parts) + "."


def _flash_decision(results: dict[str, Any]) -> str:
    sale = results.get("flash_sale")
    if not sale:
        return "- **Flash sale**: not measured in this run."
    outcome = (
        "exactly right"
        if not sale["problems"]
        else "**wrong: " + "; ".join(sale["problems"]) + "**"
    )
    line = (
        f"{sale['confirmed_seats']:,} of {sale['seats']:,} seats confirmed and "
        f"{sale['unsold_seats']:,} unsold ({outcome})"
    )
    if sale.get("sold_out"):
        line += (
            f", sold out {sale['seconds_to_sell_out']:.2f} s after the start, then "
            f"{sale.get('refusals_per_second') or 0:,.0f} refusals/s "
            f"(p50 {sale.get('refusal_p50_ms') or float('nan'):.1f} ms)"
        )
    else:
        line += ", **not sold out**"
    transactions = sale["database_transactions"]
    line += (
        f"; Postgres ended {transactions:,} transactions for its "
        f"{sale['attempts']:,} attempts"
    )
    if sale.get("sold_out"):
        reached = transactions > sale["confirmed_seats"] + 0.1 * sale["attempts"]
        line += (
            ": **many refusals reached Postgres despite the sold-out marker**"
            if reached
            else ", so the refusals after sell-out were answered from the Redis marker"
        )
    return "- **Flash sale**: " + line + "."


def _cold_start_decision(results: dict[str, Any]) -> str:
    from benchmarks.artefact import BARE, BARE_DEFAULT, FUNCTIONS

    measured = results.get("artefact")
    if not measured or "skipped" in measured:
        why = (measured or {}).get("skipped") or results.get("failures", {}).get(
            "artefact", "not run"
        )
        return f"- **Cold starts**: not measured in this run ({why})."
    cold = measured["cold"]

    def span(bare: str) -> tuple[float, float]:
        ratios = [cold[name]["cold_ms"] / cold[bare]["cold_ms"] for name in FUNCTIONS]
        return min(ratios), max(ratios)

    low, high = span(BARE)
    low_default, high_default = span(BARE_DEFAULT)
    line = (
        f"- **Cold starts**: the API functions start in {low:.2f}-{high:.2f}x the "
        f"time of the bare function compiled like them (target ≤ 1.5x: "
        f"{'met' if high <= 1.5 else '**missed**'}) and {low_default:.2f}-"
        f"{high_default:.2f}x the bare function as `sam build` makes it by default "
        f"(target ≤ 1.0x: {'met' if high_default <= 1.0 else '**missed**'})."
    )
    chosen = measured.get("chosen_memory_mb")
    by_memory = measured.get("by_memory", {})
    if chosen is not None and by_memory:
        slowest = {
            mb: max(rows[name]["cold_ms"] for name in FUNCTIONS)
            for mb, rows in by_memory.items()
        }
        line += (
            " Under Lambda's CPU share the slowest API function starts in "
            + ", ".join(f"{ms / 1000:.1f} s at {mb} MB" for mb, ms in slowest.items())
            + "; a warm booking takes "
            + ", ".join(
                f"{rows['BookingsFunction']['warm_booking_ms']:.1f} ms "
                f"(USD {rows['cost_per_million_bookings']:.2f} per million bookings) "
                f"at {mb} MB"
                for mb, rows in by_memory.items()
            )
            + f". The rule picks **{chosen} MB**, the template's `MemorySize` for the "
            "API functions: a buyer who meets a new container during a surge waits "
            "for its cold start, while a warm booking mostly waits for Postgres and "
            "Redis, takes about as long at every size, and costs only the difference "
            "in memory."
        )
    return line


def _imports_decision(results: dict[str, Any]) -> str:
    costs = (results.get("artefact") or {}).get("import_costs")
    if not costs:
        return "- **The import graph**: not measured in this run."
    bookings = costs["BookingsFunction"]
    whole = sum(bookings.values())

    def ms(name: str) -> float:
        return bookings.get(name, 0.0)

    from benchmarks.artefact import BARE

    cold = results["artefact"]["cold"]
    gap = cold["BookingsFunction"]["cold_ms"] - cold[BARE]["cold_ms"]
    fastapi_and_pydantic = ms("fastapi") + ms("pydantic") + ms("pydantic_core")
    import_gap = whole - sum(costs.get(BARE, {}).values())
    compared = "more" if ms("sqlalchemy") > fastapi_and_pydantic else "less"
    return (
        "- **The import graph**: importing BookingsFunction's handler took "
        f"{whole:.0f} ms under -X importtime (the bare function's "
        f"{sum(costs.get(BARE, {}).values()):.0f} ms), of which SQLAlchemy {ms('sqlalchemy'):.0f} "
        f"ms, {compared} than FastAPI and pydantic together ({fastapi_and_pydantic:.0f} "
        f"ms); redis-py {ms('redis'):.0f} ms (its package imports its asyncio client, "
        "cluster and sentinel support whatever one uses), our own modules "
        f"{ms('ticketmania') + ms('bookings'):.0f} ms, pg8000 with scramp, asn1crypto and "
        f"dateutil {ms('pg8000') + ms('scramp') + ms('asn1crypto') + ms('dateutil') + ms('six'):.0f} ms, "
        f"pydantic-settings {ms('pydantic_settings') + ms('dotenv'):.0f} ms, Powertools "
        f"{ms('aws_lambda_powertools') + ms('jmespath'):.0f} ms. SQLAlchemy is "
        f"{ms('sqlalchemy') / import_gap:.0%} of the {import_gap:.0f} ms our imports add "
        f"to the bare function's, and {ms('sqlalchemy') / gap:.0%} of the {gap:.0f} ms "
        "the whole cold start adds (the rest: the other imports, building the app's "
        "routes and settings, the first connections, SQLAlchemy's first mapper "
        "configuration and statement compilation). Loaded lazily, by the one route that needs each (and named in "
        "`warm_imports`, so a SnapStart snapshot holds them): passlib and argon2 "
        "(sign-up, log-in, password change), segno (the QR image), boto3 (SES, SQS, "
        "S3), Alembic (migrations). Pruned from the layer: pydantic.v1, which FastAPI "
        "imports for every route with a response model only to rule it out (53 ms "
        "in the development virtualenv, where it is present). "
        "tests/unit/test_import_lists.py keeps each function's import list from "
        "growing. Not done: a request path without SQLAlchemy (statements over pg8000 "
        "alone) is the largest single cut left, but not enough alone for the 1.5x "
        "target, which would also need redis-py, pg8000's helpers and "
        "pydantic-settings gone; that replaces chosen parts of the stack (the whole "
        "data layer first) and was left for a decision of its own. SnapStart "
        "(docs/deploy.md) takes the import out of the cold start altogether."
    )


def decisions(results: dict[str, Any]) -> str:
    listing = results.get("listing")
    other = []
    if listing:
        other.append(
            f"- **Listing cache kept**: a hit costs {listing['hit_median_ms']:.2f} ms "
            f"through the handler against {listing['miss_median_ms']:.1f} ms from "
            f"Postgres over {listing['events']:,} events "
            f"({listing['miss_median_ms'] / listing['hit_median_ms']:.0f}x)."
        )
    other.append(_cold_start_decision(results))
    other.append(_imports_decision(results))
    if results.get("surge"):
        other.append(report_surge.decision(results))
    if results.get("orders_http") and results.get("orders_database"):
        other.append(report_orders.decision(results))
    if results.get("waiting_room"):
        other.append(report_room.decision(results))
    bullets = [
        _workers_decision(results),
        _shards_decision(results),
        _cpu_decision(results),
        _statements_decision(results),
        _flash_decision(results),
        *other,
    ]
    # One line per bullet: the sentences were written across source lines.
    lines = []
    for text in bullets:
        lines += [" ".join(bullet.split()) for bullet in re.split(r"\n(?=- )", text)]
    return "\n".join(lines)


def not_measured(results: dict[str, Any]) -> str:
    skipped = results.get("curve", {}).get("skipped", {})
    lines = [
        "- Real Lambda cold starts and API Gateway latency: no AWS account here "
        "(`make coldstart` times the built artefact locally).",
        "- Open-loop latency: wrk and the flash sale's client are closed-loop (a "
        "connection sends its next request once the last is answered), so under "
        "overload their latencies understate what an arrival rate would see; compare "
        "the p99s with each other, not with a service level.",
        "- Postgres tuned for the load: the shared server runs with its own settings "
        "(above), synchronous_commit on: the WAL flush at each commit is much of what "
        "the booking statement waits on, hot or spread (the waits table of section 4).",
    ]
    if skipped:
        lines.append(
            "- pgbench at "
            + ", ".join(sorted(skipped, key=int))
            + " clients: more connections than the server allows (max_connections)."
        )
    return "\n".join(lines)
