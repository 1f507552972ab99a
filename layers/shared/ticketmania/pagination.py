"""Pagination for every list: the limit/offset parameters, ids in paths, and the
X-Total-Count and RFC 8288 Link headers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import BaseModel, Field

# Ids are Postgres bigints: anything past this is a 422, not a driver error.
MAX_ID = 2**63 - 1


# An `{id}` path parameter: a positive bigint.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="The id", examples=[1])]


class Page(BaseModel):
    """limit (1..100, default 20) and offset (default 0), as API.md sets for lists."""

    limit: int = Field(
        default=20, ge=1, le=100, description="Page size (1..100)", examples=[20]
    )
    offset: int = Field(
        default=0, ge=0, le=1_000_000, description="Rows to skip", examples=[0]
    )


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
