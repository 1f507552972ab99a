"""Refuse an oversized request body before anything reads it."""

from __future__ import annotations

from typing import Any

from ticketmania.web.error_handlers import error_response

# The largest body any route needs is an event (~6 KB); API Gateway allows 10 MB.
MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length is over `max_bytes` (or not a number)."""

    def __init__(self, app: Any, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.max_bytes:
                response = error_response(
                    status=413,
                    detail=f"The request body must be at most {self.max_bytes} bytes",
                    code="payload_too_large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
