"""The headers of a paginated list: X-Total-Count and RFC 8288 Link."""

from __future__ import annotations

from fastapi import Request


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
