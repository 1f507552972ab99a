"""OpenAPI descriptions of the responses routes share: error bodies and list headers."""

from __future__ import annotations

from typing import Any

from ticketmania.errors import CODE_FOR_STATUS

# Described once, referenced by every route's `responses=`.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer."""
    return {
        status: {
            "description": CODE_FOR_STATUS.get(status, "error"),
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


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
