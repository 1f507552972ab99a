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
    return await exchange(reader, writer, request)


def request_bytes(
    method: str,
    path: str,
    *,
    host: str,
    token: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """One HTTP/1.1 request as written on the wire."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    content = (
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        if body or method != "GET"
        else ""
    )
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\n{content}{extra}\r\n"
    ).encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    payload = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), payload


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> Exchange:
    """Send one request and read its whole answer."""
    sent = time.perf_counter()
    writer.write(request)
    status, payload = await read_answer(reader)
    return Exchange(sent, time.perf_counter(), status, payload)


async def pipelined(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, requests: list[bytes]
) -> list[Exchange]:
    """Write every request at once (HTTP/1.1 pipelining), then read the answers
    in order: a surge whose requests are all sent before the first is answered."""
    sent = time.perf_counter()
    writer.write(b"".join(requests))
    await writer.drain()
    answers = []
    for _ in requests:
        status, payload = await read_answer(reader)
        answers.append(Exchange(sent, time.perf_counter(), status, payload))
    return answers
