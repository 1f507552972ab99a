"""An ASGI app that routes like API Gateway: each declared route to its function's app.

Only the routes template.yaml declares are reachable, exactly as deployed;
/docs and /openapi.json show every function's routes in one document.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse

from localdev.docs import build_docs_app, is_docs_path, merge_openapi
from localdev.template import (
    CorsRules,
    FunctionSpec,
    HttpRoute,
    read_cors,
    read_functions,
)
from ticketmania.observability import REQUEST_KEYS, logger
from ticketmania.settings import get_settings
from ticketmania.web.response_headers import ALWAYS

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def import_function_app(spec: FunctionSpec) -> FastAPI:
    """Import `<package>.app` from the function's CodeUri, as Lambda would."""
    code_uri = str(spec.code_uri.resolve())
    if code_uri not in sys.path:
        sys.path.insert(0, code_uri)
    module = importlib.import_module(spec.module)
    app = module.app
    assert isinstance(app, FastAPI), f"{spec.module}.app is not a FastAPI app"
    return app


class LocalGateway:
    def __init__(
        self,
        functions: list[FunctionSpec],
        *,
        cors: CorsRules,
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
        self.docs = build_docs_app(merge_openapi(apps))
        self.on_shutdown = on_shutdown
        # CORS as API Gateway answers it in AWS: template.yaml's rules, for the
        # origins CORS_ALLOW_ORIGINS names (the CorsAllowOrigins parameter there).
        origins = [
            origin.strip()
            for origin in get_settings().cors_allow_origins.split(",")
            if origin.strip()
        ]
        self.entry: ASGIApp = (
            CORSMiddleware(
                self._route,
                allow_origins=origins,
                allow_methods=cors.allow_methods,
                allow_headers=cors.allow_headers,
                expose_headers=cors.expose_headers,
                max_age=cors.max_age,
            )
            if origins
            else self._route
        )

    def _match(self, method: str, path: str) -> tuple[ASGIApp | None, list[str]]:
        """The app serving (method, path), and the methods the path allows."""
        allowed: list[str] = []
        for route, app in self.routes:
            if route.pattern.match(path):
                if route.method in (method, "ANY"):
                    return app, [route.method]
                allowed.append(route.method)
        return None, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.entry(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if is_docs_path(path):
            await self.docs(scope, receive, send)
            return
        # Lambda clears request-scoped log keys per invocation; here, per request.
        # (Threads serving requests at once share the logger: best effort locally.)
        logger.remove_keys(REQUEST_KEYS)
        app, allowed = self._match(scope.get("method", "GET"), path)
        if app is not None:
            await app(scope, receive, send)
            return
        if allowed:
            response = JSONResponse(
                {"detail": "Method Not Allowed", "code": "method_not_allowed"},
                status_code=405,
                # RFC 9110: a 405 says which methods the resource does allow.
                headers={"Allow": ", ".join(sorted(set(allowed))), **ALWAYS},
            )
        else:
            response = JSONResponse(
                {"detail": "Not Found", "code": "not_found"},
                status_code=404,
                headers=ALWAYS,
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


def serving_functions(root: Path) -> list[FunctionSpec]:
    """The functions of the project's template.yaml that serve HTTP routes."""
    return [spec for spec in read_functions(root / "template.yaml") if spec.routes]


def gateway_for(
    root: Path, *, on_shutdown: Callable[[], None] | None = None
) -> LocalGateway:
    """The gateway of the project's template.yaml: its routes and its CORS rules."""
    return LocalGateway(
        serving_functions(root),
        cors=read_cors(root / "template.yaml"),
        on_shutdown=on_shutdown,
    )


# Set by `ticketmania serve` for its workers: the process they belong to.
PARENT_VARIABLE = "TICKETMANIA_SERVE_PID"


def gateway_for_worker() -> LocalGateway:
    """A worker process's gateway (`ticketmania serve --workers N`): the parent
    process has prepared the environment (database, key, cache) already. The
    worker shuts itself down once that parent is gone, however it went."""
    from localdev.cli import project_root
    from localdev.guardian import watch_parent

    parent = int(os.environ.get(PARENT_VARIABLE, "0"))
    if parent and parent == os.getppid():
        watch_parent(parent)
    return gateway_for(project_root())
