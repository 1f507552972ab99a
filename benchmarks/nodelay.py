"""uvicorn with TCP_NODELAY on every accepted connection, for the bare baseline:
`python -m benchmarks.nodelay <uvicorn arguments>`.

With `--workers` above 1, uvicorn binds the listening socket itself as
`socket.socket(family)`, protocol 0, and each accepted connection inherits
protocol 0; asyncio sets TCP_NODELAY only on sockets whose protocol is
IPPROTO_TCP, so every multi-worker connection keeps Nagle's algorithm and each
response's body waits for the client's delayed ACK, about 40 ms on Linux.
`ticketmania serve` makes its listening socket itself with IPPROTO_TCP
(`tcp_listener` in localdev/cli.py); the bare FastAPI app it is compared with
runs under plain uvicorn, so it gets the same here, else the baseline would
carry the 40 ms. The patch sets TCP_NODELAY on any TCP stream socket. It is
applied when this module is imported, so uvicorn's spawned workers, which
import the main module again, get it too. Nothing else changes.
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


if __name__ == "__main__":
    from uvicorn.main import main as uvicorn

    sys.exit(uvicorn(args=sys.argv[1:]))
