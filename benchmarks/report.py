"""BENCHMARKS.md, written from one run's results (benchmarks/results.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import report_orders, report_room, report_surge

CPU_TARGETS = {"booking_vs_post": 3.0, "listing_vs_get": 4.0}
HOT_SPREAD_TARGET = 0.8


def _f(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _met(ratio: float, target: float, *, at_most: bool) -> str:
    ok = ratio <= target if at_most else ratio >= target
    return "met" if ok else "**missed**"


def _failed(results: dict[str, Any], name: str) -> str:
    why = results.get("failures", {}).get(name)
    return (
        f"\n**Not measured in this run: {why}**\n"
        if why
        else "\n**Not measured in this run.**\n"
    )


# --- the tables -------------------------------------------------------------


def workers_table(results: dict[str, Any]) -> str:
    if "workers" not in results:
        return _failed(results, "workers")
    decision = results["workers"]
    rows = [
        f"Booking load (wrk, {decision['connections']} connections, one hot event, "
        f"{decision['rounds']} alternating rounds of {decision['seconds']:.0f} s, medians):",
        "",
        "| `--workers` | bookings/s | p50 / p99 ms | rounds |",
        "|---|---|---|---|",
    ]
    table = decision["table"]
    for workers in sorted(table, key=int):
        row = table[workers]
        rows.append(
            f"| {workers} | {_f(row['per_second'])} | "
            f"{_ms(row['p50_ms'])} / {_ms(row['p99_ms'])} | "
            f"{', '.join(_f(v) for v in row['per_second_rounds'])} |"
        )
    errors = sum(
        row["non_2xx"] + row["socket_errors"] + row["timeouts"]
        for row in table.values()
    )
    rows += [
        "",
        f"Best: **{decision['best']} workers**. Non-2xx answers, socket errors and "
        f"timeouts over all these runs: {errors}.",
    ]
    return "\n".join(rows)


def one_connection_line(results: dict[str, Any]) -> str:
    one = results.get("one_connection")
    if not one:
        return _failed(results, "one_connection")
    return (
        f"One connection, {one['workers']} workers each, p50 (p99) per request: "
        f"`ticketmania serve` {_ms(one['booking']['p50_ms'])} ms "
        f"({_ms(one['booking']['p99_ms'])}); the bare FastAPI app under uvicorn "
        f"{_ms(one['bare']['p50_ms'])} ms ({_ms(one['bare']['p99_ms'])}) with "
        f"TCP_NODELAY and {_ms(one['bare_as_uvicorn_binds_it']['p50_ms'])} ms "
        f"({_ms(one['bare_as_uvicorn_binds_it']['p99_ms'])}) as uvicorn binds the "
        "socket itself."
    )


def curve_tables(results: dict[str, Any]) -> str:
    if "curve" not in results:
        return _failed(results, "curve")
    curve = results["curve"]
    names = ["booking", "bare", "pgbench_one_row"]

    def cell(name: str, level: int) -> dict[str, Any] | None:
        found: dict[str, Any] | None = curve.get(name, {}).get(str(level))
        return found

    rows = [
        f"`--workers {curve['workers']}`; wrk with 2 threads (1 at one connection), "
        f"{curve['rounds']} alternating rounds of {curve['seconds']:.0f} s per point, medians. "
        "Successful requests per second (bookings made; the bare app's 201s; pgbench's committed transactions):",
        "",
        "| connections | bookings/s, ticketmania serve | bare FastAPI req/s (TCP_NODELAY) | pgbench one-row tps | bookings / bare |",
        "|---|---|---|---|---|",
    ]
    for level in curve["levels"]:
        values = {n: cell(n, level) for n in names}
        booking, bare = values["booking"], values["bare"]
        ratio = booking["per_second"] / bare["per_second"] if booking and bare else None
        rows.append(
            f"| {level} | "
            + " | ".join(_f(v["per_second"] if v else None) for v in values.values())
            + f" | {_f(ratio, 2)}{'x' if ratio else ''} |"
        )
    rows += [
        "",
        "Latency, p50 / p99 in ms:",
        "",
        "| connections | booking, ticketmania serve | bare FastAPI | pgbench one-row |",
        "|---|---|---|---|",
    ]
    for level in curve["levels"]:
        cells = []
        for name in names:
            value = cell(name, level)
            cells.append(
                f"{_ms(value['p50_ms'])} / {_ms(value['p99_ms'])}" if value else "—"
            )
        rows.append(f"| {level} | " + " | ".join(cells) + " |")
    problems = []
    for name in ("booking", "bare"):
        for level, value in curve.get(name, {}).items():
            bad = value["non_2xx"] + value["socket_errors"] + value["timeouts"]
            if bad:
                problems.append(
                    f"{name} at {level}: {value['non_2xx']} non-2xx ({value['unavailable']} of them 503), "
                    f"{value['socket_errors']} socket errors, {value['timeouts']} timeouts"
                )
    rows.append("")
    if problems:
        rows.append("Not every request succeeded: " + "; ".join(problems) + ".")
    else:
        total = sum(v["requests"] for v in curve.get("booking", {}).values())
        rows.append(
            f"All {total:,} booking requests of the curve were 2xx (no 409, no 503, no socket error)."
        )
    for level, why in curve.get("skipped", {}).items():
        rows.append(f"pgbench at {level} clients: not run, {why}.")
    return "\n".join(rows)


def cpu_table(results: dict[str, Any]) -> str:
    if "cpu" not in results:
        return _failed(results, "cpu")
    cpu = results["cpu"]
    ms = cpu["cpu_ms"]
    labels = {
        "post_baseline": "(a) bare FastAPI + Mangum, sync POST route, pydantic body, returns a dict",
        "get_baseline": "(b) bare FastAPI + Mangum, async GET route, returns a dict",
        "booking": "(c) `bookings.app.handler`: POST /bookings, 1 seat, no Idempotency-Key",
        "listing": "(d) `events.app.handler`: GET /events from the warm cache",
    }
    rows = [
        "| handler | CPU ms per invocation (median) | calls |",
        "|---|---|---|",
    ]
    for name, label in labels.items():
        rows.append(f"| {label} | {ms[name]:.3f} | {cpu['calls'][name]:,} |")
    booking, listing = cpu["booking_vs_post"], cpu["listing_vs_get"]
    rows += [
        "",
        "| ratio | measured | target | |",
        "|---|---|---|---|",
        f"| booking (c) / (a) | {booking:.2f}x | ≤ {CPU_TARGETS['booking_vs_post']:.0f}x | "
        f"{_met(booking, CPU_TARGETS['booking_vs_post'], at_most=True)} |",
        f"| listing (d) / (b) | {listing:.2f}x | ≤ {CPU_TARGETS['listing_vs_get']:.0f}x | "
        f"{_met(listing, CPU_TARGETS['listing_vs_get'], at_most=True)} |",
        "",
        f"Database statements sent by 20 warm GET /events calls: "
        f"{cpu['listing_statements_per_20_calls']} (every one a cache hit).",
    ]
    return "\n".join(rows)


def statements_tables(results: dict[str, Any]) -> str:
    if "statements" not in results:
        return _failed(results, "statements")
    found = results["statements"]
    scenarios = {
        "booking": "POST /bookings, the fast pick finds a free shard",
        "booking_waiting_pick": "POST /bookings, every shard held by another booking (the waiting pick follows)",
        "cancel": "POST /bookings/{id}/cancel",
    }
    rows = [
        "| request (warm) | statements sent | round trips | statements while seats are held | round trips while held |",
        "|---|---|---|---|---|",
    ]
    for name, label in scenarios.items():
        if name in found:
            s = found[name]
            prepared = (
                f" (+ {s['prepares']} prepare(s) in {s['prepare_round_trips']} round trip(s), "
                "once per pooled connection)"
                if s.get("prepares")
                else ""
            )
            rows.append(
                f"| {label} | {s['statements']}{prepared} | {s['round_trips']} | "
                f"{s['held_statements']} | {s['held_round_trips']} |"
            )
    rows.append("")
    for name, label in scenarios.items():
        if name not in found:
            continue
        rows.append(f"{label}:")
        rows.append("")
        for number, entry in enumerate(found[name]["detail"], start=1):
            held = (
                f", **seats held** for {entry['held_round_trips']} round trip(s)"
                if entry["held_round_trips"]
                else ""
            )
            mode = "autocommit" if entry["autocommit"] else "in a transaction"
            kind = {
                "named": "prepared statement run",
                "unnamed": "parse, bind, execute",
                "simple": "simple query",
                "prepare": "prepare, once per pooled connection",
            }[entry["kind"]]
            rows.append(
                f"{number}. `{entry['statement']}` ({kind}, {mode}): "
                f"{entry['round_trips']} round trip(s){held}"
            )
        rows.append("")
    waited = found.get("booking_waiting_pick", {}).get("waited_for_lock")
    if waited is False:
        rows.append(
            "(The waiting pick was not seen waiting for the held shard in this run.)"
        )
    return "\n".join(rows).rstrip()


def hot_spread_table(results: dict[str, Any]) -> str:
    if "hot_spread" not in results:
        return _failed(results, "hot_spread")
    hs = results["hot_spread"]
    rows = [
        f"pgbench `-M prepared`, {hs['rounds']} alternating rounds of {hs['seconds']:.0f} s, median TPS "
        "(per-round hot/spread ratios in brackets):",
        "",
        "| clients | BOOK_FROM_ONE_SHARD, 1 event, 64 shards | same, 64 events of 64 shards | hot / spread | one-row transaction, 1 event | same, 64 events | hot / spread |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in hs["clients"]:
        key = str(c)
        sr = hs["statement_ratio"][key]
        orr = hs["one_row_ratio"][key]
        rows.append(
            f"| {c} | {_f(hs['statement_hot'][key]['tps'])} | {_f(hs['statement_spread'][key]['tps'])} | "
            f"**{sr:.2f}x** ({', '.join(f'{r:.2f}' for r in hs['statement_ratio_rounds'][key])}) | "
            f"{_f(hs['one_row_hot'][key]['tps'])} | {_f(hs['one_row_spread'][key]['tps'])} | "
            f"{orr:.2f}x ({', '.join(f'{r:.2f}' for r in hs['one_row_ratio_rounds'][key])}) |"
        )
    transactions = sum(
        hs[v][str(c)]["transactions"]
        for v in ("statement_hot", "statement_spread")
        for c in hs["clients"]
    )
    booked = sum(
        hs[v][str(c)]["booked"]
        for v in ("statement_hot", "statement_spread")
        for c in hs["clients"]
    )
    ratios = [hs["statement_ratio"][str(c)] for c in hs["clients"]]
    rows += [
        "",
        f"Target hot/spread ≥ {HOT_SPREAD_TARGET}: "
        + (
            "met at every client count."
            if min(ratios) >= HOT_SPREAD_TARGET
            else f"**missed** (lowest {min(ratios):.2f}x)."
        ),
        f"The booking statement ran {transactions:,} times and booked {booked:,} seats"
        + (
            "."
            if transactions == booked
            else f": {transactions - booked} booked nothing, their fast pick having found no shard it"
            " could lock without waiting (the booking path then runs the waiting pick, which pgbench does not)."
        ),
        waits_table(hs),
        "",
        "p99 latency, ms (hot / spread): "
        + "; ".join(
            f"{c} clients: statement {_ms(hs['statement_hot'][str(c)]['p99_ms'])} / {_ms(hs['statement_spread'][str(c)]['p99_ms'])}, "
            f"one-row {_ms(hs['one_row_hot'][str(c)]['p99_ms'])} / {_ms(hs['one_row_spread'][str(c)]['p99_ms'])}"
            for c in hs["clients"]
        )
        + ".",
    ]
    return "\n".join(rows)


def waits_table(hs: dict[str, Any]) -> str:
    """What the booking statement's backends waited on, hot against spread, at the
    most clients (shares of pg_stat_activity samples)."""
    waits = hs.get("waits")
    if not waits:
        return ""
    clients = str(max(hs["clients"]))
    hot, spread = waits["statement_hot"][clients], waits["statement_spread"][clients]
    names = sorted(
        set(hot) | set(spread), key=lambda w: -(hot.get(w, 0) + spread.get(w, 0))
    )[:6]
    rows = [
        "",
        f"What the booking statement's backends were doing at {clients} clients (share of "
        "pg_stat_activity samples every 20 ms; CPU: no wait event, on a core or queued for one). "
        f"The hot event's 64 shards sit in {hs['hot_shard_heap_pages']} heap page(s).",
        "",
        "| wait | hot | spread |",
        "|---|---|---|",
    ]
    rows += [
        f"| {name} | {hot.get(name, 0) * 100:.0f}% | {spread.get(name, 0) * 100:.0f}% |"
        for name in names
    ]
    return "\n".join(rows)


def flash_sale_section(results: dict[str, Any]) -> str:
    if "flash_sale" not in results:
        return _failed(results, "flash_sale")
    sale = results["flash_sale"]
    sold_out = (
        f"{sale['seconds_to_sell_out']:.2f} s after {sale['attempts_until_sold_out']:,} attempts"
        if sale.get("sold_out")
        else "**not sold out**"
    )
    refusals = (
        f"{sale.get('refusals_after', 0):,} in {sale.get('refusals_after_window_s', 0):.2f} s: "
        f"**{_f(sale.get('refusals_per_second'))}/s**, p50 {_ms(sale.get('refusal_p50_ms'))} ms, "
        f"p99 {_ms(sale.get('refusal_p99_ms'))} ms"
        if sale.get("sold_out")
        else "—"
    )
    rows = [
        f"{sale['attempts']:,} attempts, {sale['users']} users (a different one per attempt, in turn), "
        f"{sale['connections']} keep-alive connections, one event of {sale['seats']:,} seats "
        f"(64 shards), a fresh `ticketmania serve --workers {sale['workers']}` with the "
        f"default per-user cap ({sale['defaults']['max_seats_per_user_per_event']} seats) "
        f"and booking rate limit ({sale['defaults']['rate_limit_booking']} per user):",
        "",
        "| | |",
        "|---|---|",
        f"| attempts sent / answered | {sale['attempts']:,} / {sale['answers']:,} |",
        "| answers | "
        + ", ".join(f"{v:,}: {k}" for k, v in sorted(sale["outcomes"].items()))
        + " |",
        f"| confirmed seats in the database / unsold seats | {sale['confirmed_seats']:,} / {sale['unsold_seats']:,} |",
        f"| time until sold out (the last booking answered) | {sold_out} |",
        f"| booking latency p50 | {_ms(sale.get('booking_p50_ms'))} ms |",
        f"| refusals after sell-out | {refusals} |",
        "| transactions Postgres ended during the sale (give or take the server's "
        f"readiness checks) | {sale['database_transactions']:,} |",
        f"| whole run | {sale['elapsed_s']:.2f} s |",
        f"| problems | {'; '.join(sale['problems']) if sale['problems'] else 'none'} |",
    ]
    return "\n".join(rows)


def flash_sale_holds_section(results: dict[str, Any]) -> str:
    if "flash_sale_holds" not in results:
        return _failed(results, "flash_sale_holds")
    sale = results["flash_sale_holds"]
    plain = results.get("flash_sale", {})
    ratio = sale.get("hold_vs_booking")
    target = (
        f"{ratio:.2f}x {_met(ratio, 1.3, at_most=True)}" if ratio is not None else "—"
    )
    plain_rate = (
        plain["attempts"] / plain["elapsed_s"] if plain.get("elapsed_s") else None
    )
    state = sale["state"]
    rows = [
        f"The same sale ({sale['attempts']:,} attempts, {sale['users']} users, "
        f"{sale['connections']} connections, {sale['seats']:,} seats, a fresh "
        f"`ticketmania serve --workers {sale['workers']}` with its scheduled jobs), "
        "but half the buyers hold and then confirm, a tenth of those never confirm "
        f"(holds of {sale['hold_seconds']} s), and once it is sold out "
        f"{sale['waitlist']} other users join its waitlist:",
        "",
        "| | |",
        "|---|---|",
        "| answers | "
        + ", ".join(f"{v:,}: {k}" for k, v in sorted(sale["outcomes"].items()))
        + " |",
        f"| answer p50 (p99): plain booking / hold / confirmation | "
        f"{_ms(sale.get('book_p50_ms'))} ({_ms(sale.get('book_p99_ms'))}) / "
        f"{_ms(sale.get('hold_p50_ms'))} ({_ms(sale.get('hold_p99_ms'))}) / "
        f"{_ms(sale.get('confirm_p50_ms'))} ({_ms(sale.get('confirm_p99_ms'))}) ms |",
        f"| a hold's answer against a plain booking's, same sale (target ≤ 1.3x) | {target} |",
        f"| requests answered per second: with holds / the plain sale | "
        f"{_f(sale['requests_per_second'])} / {_f(plain_rate)} |",
        f"| seats confirmed + held by offers / on sale; unsold | "
        f"{state['confirmed']:,} + {state['held']:,} / {sale['seats']:,}; {state['unsold']} |",
        f"| holds lapsed after the line formed / offers made, all to the first entries in line | "
        f"{sale['holds_lapsed']} / {sale['offers']}, "
        f"{'in order' if sale['offers_in_order'] else '**not in order**'} |",
        f"| from the sale's end to the last offer (the lapse after {sale['hold_seconds']} s, then the job) | "
        f"{sale['seconds_from_sale_end_to_last_offer']:.1f} s |",
        f"| bookings made past the line | {state['booked_after_line']} |",
        f"| problems | {'; '.join(sale['problems']) if sale['problems'] else 'none'} |",
    ]
    return "\n".join(rows)


def checkins_section(results: dict[str, Any]) -> str:
    if "checkins" not in results:
        return _failed(results, "checkins")
    door = results["checkins"]
    curve = results.get("curve", {})
    bookings = curve.get("booking", {}).get(str(door["scanners"]), {})
    booking_rate = bookings.get("per_second")
    ratio = door["checkins_per_second"] / booking_rate if booking_rate else None
    rows = [
        f"One event, {door['tickets']:,} tickets (a confirmed booking's code each), "
        f"{door['scanners']} scanners (keep-alive connections) admitting them one after "
        f"another through a fresh `ticketmania serve --workers {door['workers']}`, then "
        "every code scanned again:",
        "",
        "| | |",
        "|---|---|",
        f"| check-ins/s (first scans) | **{_f(door['checkins_per_second'])}**, "
        f"p50 {_ms(door['checkin_p50_ms'])} ms, p99 {_ms(door['checkin_p99_ms'])} ms |",
        f"| bookings/s through the same server at {door['scanners']} connections (the curve) | "
        f"{_f(booking_rate)}"
        + (f" (check-ins {ratio:.2f}x bookings)" if ratio else "")
        + " |",
        f"| second scans/s (409 already_checked_in) | {_f(door['repeats_per_second'])}, "
        f"p50 {_ms(door['repeat_p50_ms'])} ms |",
        f"| tickets admitted in the database | {door['admitted']:,} of {door['tickets']:,} |",
        f"| problems | {'; '.join(door['problems']) if door['problems'] else 'none'} |",
    ]
    return "\n".join(rows)


def other_rows(results: dict[str, Any]) -> str:
    rows = [
        "| benchmark | measured | baseline | ratio | note |",
        "|---|---|---|---|---|",
    ]
    listing = results.get("listing")
    if listing:
        rows.append(
            f"| GET /events, handler, cache hit vs database ({listing['events']:,} events) | "
            f"{listing['hit_median_ms']:.2f} ms (p99 {listing['hit_p99_ms']:.2f}) | "
            f"{listing['miss_median_ms']:.2f} ms (p99 {listing['miss_p99_ms']:.2f}) | "
            f"{listing['miss_median_ms'] / listing['hit_median_ms']:.1f}x | speed-up of the cache, wall time |"
        )
    missing = [name for name in ("listing",) if name not in results]
    for name in missing:
        rows.append(
            f"| {name} | not measured | | | {results.get('failures', {}).get(name, '')} |"
        )
    return "\n".join(rows)


def artefact_section(results: dict[str, Any]) -> str:
    from benchmarks import artefact

    measured = results.get("artefact")
    if measured is None:
        return (
            f"Not measured: {results.get('failures', {}).get('artefact', 'not run')}."
        )
    lines = [
        "| benchmark | measured | baseline | ratio | note |",
        "|---|---|---|---|---|",
        *artefact.rows(measured),
    ]
    chosen = measured.get("chosen_memory_mb")
    if chosen is not None:
        lines += [
            "",
            f"Memory by this run's rule (the smallest size whose slowest API function "
            f"starts within {artefact.COLD_START_TOLERANCE}x of its cold start at a whole "
            f"vCPU): **{chosen} MB**.",
        ]
    return "\n".join(lines)


def results_section(results: dict[str, Any], chart: Path | None = None) -> str:
    parts = [
        "### 1. Bookings through the local server against concurrency",
        "",
        "Choosing `--workers`:",
        "",
        workers_table(results),
        "",
        one_connection_line(results),
        "",
        "The curve:",
        "",
        curve_tables(results),
    ]
    if chart is not None and "curve" in results:
        parts += [
            "",
            f"![bookings/s and latency against concurrency]({chart.as_posix()})",
        ]
    parts += [
        "",
        "### 2. CPU per warm invocation, in process",
        "",
        cpu_table(results),
        "",
        "### 3. Statements while seats are held",
        "",
        statements_tables(results),
        "",
        "### 4. Hot versus spread at the database, with the booking path's own statement",
        "",
        hot_spread_table(results),
        "",
        "### 5. Flash sale",
        "",
        flash_sale_section(results),
        "",
        "With holds and a waitlist:",
        "",
        flash_sale_holds_section(results),
        "",
        "### 5b. The door: check-ins",
        "",
        checkins_section(results),
        "",
        "### 6. Listing cache",
        "",
        other_rows(results),
        "",
        "### 7. Cold starts, memory and sizes of the built functions",
        "",
        artefact_section(results),
        "",
        "### 8. A surge past max_connections: through a transaction pooler and directly",
        "",
        report_surge.section(results),
        "",
        "### 9. Orders of several ticket types against one-type bookings",
        "",
        report_orders.section(results),
        "",
        "### 10. The waiting room against a surge at the on-sale",
        "",
        report_room.section(results),
    ]
    if results.get("failures"):
        parts += ["", "### Failures in this run", ""]
        parts += [f"- {name}: {why}" for name, why in results["failures"].items()]
    return "\n".join(parts)


def render(results: dict[str, Any], *, chart: Path) -> str:
    from benchmarks.report_text import decisions, header, measures, not_measured

    return "\n".join(
        [
            header(results),
            "## Results",
            "",
            results_section(results, chart),
            "",
            "## What each one measures",
            "",
            measures(results),
            "",
            "## What the numbers decided",
            "",
            decisions(results),
            "",
            "## Not measured here",
            "",
            not_measured(results),
            "",
        ]
    )
