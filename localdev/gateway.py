"""An ASGI app that routes like API Gateway: each declared route to its function's app.

Only the routes template.yaml declares are reachable, exactly as deployed;
/docs and /openapi.json show every function's routes in one document.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

from localdev.template import FunctionSpec, HttpRoute

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json")


def import_function_app(spec: FunctionSpec) -> FastAPI:
    """Import `<package>.app` from the function's CodeUri, as Lambda would."""
    code_uri = str(spec.code_uri.resolve())
    if code_uri not in sys.path:
        sys.path.insert(0, code_uri)
    module = importlib.import_module(spec.module)
    app = module.app
    assert isinstance(app, FastAPI), f"{spec.module}.app is not a FastAPI app"
    return app


def merge_openapi(apps: list[FastAPI]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "TicketMania",
            "version": "1.0.0",
            "description": apps[0].description if apps else "",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for app in apps:
        schema = app.openapi()
        for path, operations in schema.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        for section, entries in schema.get("components", {}).items():
            merged["components"].setdefault(section, {}).update(entries)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


class LocalGateway:
    def __init__(
        self,
        functions: list[FunctionSpec],
        *,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.routes: list[tuple[HttpRoute, ASGIApp]] = []
        apps: list[FastAPI] = []
        for spec in functions:
            app = import_function_app(spec)
            apps.append(app)
            self.routes.extend((route, app) for route in spec.routes)
        # Like API Gateway: a literal path (/bookings/my) wins over a parameter (/bookings/{id}).
        self.routes.sort(key=lambda entry: entry[0].path.count("{"))
        self.docs = FastAPI(
            title="TicketMania", swagger_ui_parameters={"persistAuthorization": True}
        )
        openapi = merge_openapi(apps)
        self.docs.openapi = lambda: openapi  # type: ignore[method-assign]
        self.on_shutdown = on_shutdown

    def _match(self, method: str, path: str) -> tuple[ASGIApp | None, bool]:
        """The app serving (method, path), and whether the path exists for any method."""
        path_exists = False
        for route, app in self.routes:
            if route.pattern.match(path):
                path_exists = True
                if route.method in (method, "ANY"):
                    return app, True
        return None, path_exists

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope["path"]
        if path in DOCS_PATHS:
            await self.docs(scope, receive, send)
            return
        app, path_exists = self._match(scope.get("method", "GET"), path)
        if app is not None:
            await app(scope, receive, send)
            return
        if path_exists:
            response = JSONResponse(
                {"detail": "Method Not Allowed", "code": "method_not_allowed"},
                status_code=405,
            )
        else:
            response = JSONResponse(
                {"detail": "Not Found", "code": "not_found"}, status_code=404
            )
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Here, not in atexit: uvicorn re-raises SIGTERM after shutdown, so
                # atexit handlers (pgserver's stop among them) would never run.
                if self.on_shutdown is not None:
                    self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
