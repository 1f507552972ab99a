"""Refuse an oversized request body before anything reads it."""

from __future__ import annotations

from typing import Any

from ticketmania.web.error_handlers import error_response

# The largest body any route needs is an event (~6 KB); API Gateway allows 10 MB.
MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """ASGI middleware: 413 `payload_too_large` for a body over `max_bytes`.

    A body with a Content-Length is judged by it (not a number: refused too)
    before any of it is read. One without (chunked) is read here, up to the
    limit and not a byte further, then handed to the app whole: the routes read
    every body whole anyway. (Starlette's own limiter answers in plain text and
    only counts what a route happens to read.)
    """

    def __init__(self, app: Any, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": bytes(body), "more_body": False}
        await self.app(scope, _replay([whole], then=receive), send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        response = error_response(
            status=413,
            detail=f"The request body must be at most {self.max_bytes} bytes",
            code="payload_too_large",
        )
        await response(scope, receive, send)


def _replay(messages: list[dict[str, Any]], then: Any = None) -> Any:
    """A `receive` that gives `messages`, then defers to `then` (a disconnect)."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        message: dict[str, Any] = await then()
        return message

    return receive
