"""The benchmarks' HTTP client: one POST at a time on a keep-alive HTTP/1.1
connection, cheap enough per request that the server, not the client, is what
is measured, and timed from the write to the last byte of the answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    sent: float  # perf_counter() when the request was written
    answered: float  # perf_counter() when the answer's body was read
    status: int
    body: bytes


async def post(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    host: str,
    path: str,
    token: str,
    body: bytes,
) -> Exchange:
    """POST a JSON body as the token's holder and read the whole answer."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sent = time.perf_counter()
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return Exchange(sent, time.perf_counter(), int(status_line.split()[1]), payload)
