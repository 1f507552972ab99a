"""Headers every response of an app carries: `X-Content-Type-Options: nosniff`
always (a browser never guesses a body's type), plus any an app asks for (the
auth function's `Cache-Control: no-store`: tokens and profiles stay out of
caches, RFC 6749 §5.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALWAYS = {"X-Content-Type-Options": "nosniff"}


class ResponseHeaders:
    """ASGI middleware adding headers to every HTTP response, errors included."""

    def __init__(self, app: Any, *, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.headers = [
            (name.lower().encode(), value.encode())
            for name, value in {**ALWAYS, **(headers or {})}.items()
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
