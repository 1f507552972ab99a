"""Run a server with TCP_NODELAY on every accepted connection:
`python -m benchmarks.nodelay serve ...` (ticketmania serve) or
`python -m benchmarks.nodelay uvicorn ...`.

With `--workers` above 1, uvicorn binds the listening socket itself as
`socket.socket(family)`, protocol 0, and each accepted connection inherits
protocol 0; asyncio sets TCP_NODELAY only on sockets whose protocol is
IPPROTO_TCP, so every multi-worker connection keeps Nagle's algorithm. uvicorn's
h11 protocol writes a response's head and its body separately; the body waits
for the client's delayed ACK, about 40 ms on Linux, on every request
(BENCHMARKS.md). The patch below sets TCP_NODELAY on any TCP stream socket.
It is applied when this module is imported, so uvicorn's spawned workers,
which import the main module again, get it too. Nothing else changes.
"""

from __future__ import annotations

import asyncio.base_events
import socket
import sys


def _set_nodelay(sock: socket.socket) -> None:
    if (
        sock.family in {socket.AF_INET, socket.AF_INET6}
        and sock.type == socket.SOCK_STREAM
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


asyncio.base_events._set_nodelay = _set_nodelay  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "serve":
        from localdev.cli import main as ticketmania

        return ticketmania(["serve", *rest])
    if command == "uvicorn":
        from uvicorn.main import main as uvicorn

        uvicorn(args=rest)  # exits
    raise SystemExit(f"unknown command {command!r}: serve or uvicorn")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
