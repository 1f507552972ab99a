"""wrk against the local server: POST /bookings with a different user's token per request.

The Lua script holds every user's token and cycles through them (each wrk
thread from its own offset); it counts responses by status itself, so 2xx
(bookings made), 409 (refused), 503 (unavailable) and anything else are told
apart, and prints one JSON line that this module reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
local tokens = {%(tokens)s}
local bodies = {%(bodies)s}
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = index * 7919
  ok, refused, limited, unavailable, other, other_status = 0, 0, 0, 0, 0, 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", "%(path)s", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1],
  }, bodies[(counter %% #bodies) + 1])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status == 409 then refused = refused + 1
  elseif status == 429 then limited = limited + 1
  elseif status == 503 then unavailable = unavailable + 1
  else other = other + 1; other_status = status end
end

function done(summary, latency, requests)
  local totals = {ok = 0, refused = 0, limited = 0, unavailable = 0, other = 0}
  local other_status = 0
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    if thread:get("other_status") ~= 0 then other_status = thread:get("other_status") end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %%d, "duration_us": %%d, "ok": %%d, "refused": %%d, ' ..
    '"limited": %%d, "unavailable": %%d, "other": %%d, "other_status": %%d, ' ..
    '"socket_errors": %%d, "timeouts": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, totals.ok, totals.refused, totals.limited,
    totals.unavailable, totals.other, other_status,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkRun:
    connections: int
    seconds: float
    requests: int
    ok: int
    refused: int
    limited: int
    unavailable: int
    other: int
    other_status: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds

    @property
    def non_2xx(self) -> int:
        return self.refused + self.limited + self.unavailable + self.other

    def as_dict(self) -> dict[str, float]:
        return {
            "connections": self.connections,
            "ok_per_second": self.ok_per_second,
            "requests": self.requests,
            "ok": self.ok,
            "non_2xx": self.non_2xx,
            "refused": self.refused,
            "limited": self.limited,
            "unavailable": self.unavailable,
            "other_status": self.other_status,
            "socket_errors": self.socket_errors,
            "timeouts": self.timeouts,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        }


def ensure_wrk() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    return binary


class BookingLoad:
    """A Lua script for one event and a set of users' tokens, kept on disk for
    the run: POST /bookings of one seat, or (`path`, `bodies`) any POST whose
    bodies it cycles through."""

    def __init__(
        self,
        *,
        tokens: list[str],
        event_id: int,
        path: str = "/bookings",
        bodies: list[dict[str, object]] | None = None,
    ) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="bench-wrk-")
        self.script = Path(self.folder.name) / "bookings.lua"
        sent = bodies or [{"event_id": event_id, "seats_booked": 1}]
        self.script.write_text(
            _SCRIPT
            % {
                "tokens": ",".join(f'"{token}"' for token in tokens),
                "bodies": ",".join(f"'{json.dumps(body)}'" for body in sent),
                "path": path,
            }
        )

    def run(self, url: str, *, connections: int, seconds: float) -> WrkRun:
        command = [
            ensure_wrk(),
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(self.script),
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        line = next(
            (
                line
                for line in done.stdout.splitlines()
                if line.startswith("WRK-RESULT ")
            ),
            None,
        )
        if done.returncode != 0 or line is None:
            raise RuntimeError(
                f"wrk failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}"
            )
        result = json.loads(line.removeprefix("WRK-RESULT "))
        return WrkRun(
            connections=connections,
            seconds=result["duration_us"] / 1e6,
            requests=result["requests"],
            ok=result["ok"],
            refused=result["refused"],
            limited=result["limited"],
            unavailable=result["unavailable"],
            other=result["other"],
            other_status=result["other_status"],
            socket_errors=result["socket_errors"],
            timeouts=result["timeouts"],
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
        )

    def close(self) -> None:
        self.folder.cleanup()
