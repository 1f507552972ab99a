"""X-Total-Count and RFC 8288 Link headers for paginated lists."""

from __future__ import annotations

from typing import Any

from fastapi import Request


def list_response_doc(what: str) -> dict[str, Any]:
    """OpenAPI for a paginated list's 200: its X-Total-Count and Link headers."""
    return {
        "headers": {
            "X-Total-Count": {
                "description": f"{what}: how many in all",
                "schema": {"type": "integer"},
            },
            "Link": {
                "description": 'RFC 8288 links with rel="next" / rel="prev"',
                "schema": {"type": "string"},
            },
        }
    }


def _page_url(request: Request, *, limit: int, offset: int) -> str:
    return str(request.url.include_query_params(limit=limit, offset=offset))


def page_headers(
    request: Request, *, total: int, limit: int, offset: int
) -> dict[str, str]:
    links = []
    if offset + limit < total:
        links.append(
            f'<{_page_url(request, limit=limit, offset=offset + limit)}>; rel="next"'
        )
    if offset > 0:
        previous = max(min(offset - limit, max(total - limit, 0)), 0)
        links.append(
            f'<{_page_url(request, limit=limit, offset=previous)}>; rel="prev"'
        )
    headers = {"X-Total-Count": str(total)}
    if links:
        headers["Link"] = ", ".join(links)
    return headers
