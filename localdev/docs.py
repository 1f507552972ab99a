"""/docs and /openapi.json for the local server: every function's routes in one
document, and Swagger UI served from the fastapi-swagger package's own copy,
so the page works on a machine without internet."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ticketmania.web.response_headers import ResponseHeaders

DOCS_PREFIX = "/docs"
OPENAPI_PATH = "/openapi.json"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"

# file name in fastapi_swagger/resources -> media type
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


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


def is_docs_path(path: str) -> bool:
    return path in (OPENAPI_PATH, DOCS_PREFIX) or path.startswith(DOCS_PREFIX + "/")


def build_docs_app(openapi: dict[str, Any]) -> FastAPI:
    docs = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    docs.add_middleware(ResponseHeaders)
    asset_folder = resources.files("fastapi_swagger") / "resources"
    assets = {
        name: (asset_folder.joinpath(name).read_bytes(), media_type)
        for name, media_type in _ASSETS.items()
    }

    @docs.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(openapi)

    @docs.get(DOCS_PREFIX, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title="TicketMania - Swagger UI",
            swagger_js_url=f"{DOCS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @docs.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @docs.get(DOCS_PREFIX + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            return JSONResponse(
                {"detail": "Not Found", "code": "not_found"}, status_code=404
            )
        content, media_type = assets[name]
        return Response(content, media_type=media_type)

    return docs
