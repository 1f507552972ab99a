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


# A 422 keeps FastAPI's shape: `detail` lists what was wrong, and where.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        },
        "code": {"type": "string", "enum": ["validation_error"]},
    },
    "required": ["detail", "code"],
}

# Headers some errors carry.
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
_HEADERS_BY_STATUS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: Bearer",
            "schema": {"type": "string"},
        }
    },
    429: {
        **_RETRY_AFTER,
        "RateLimit-Limit": {"schema": {"type": "integer"}},
        "RateLimit-Remaining": {"schema": {"type": "integer"}},
        "RateLimit-Reset": {"schema": {"type": "integer"}},
    },
    503: _RETRY_AFTER,
}


def _validation_error_schema(codes: tuple[str, ...]) -> dict[str, Any]:
    if not codes:
        return VALIDATION_ERROR_SCHEMA
    schema = dict(VALIDATION_ERROR_SCHEMA)
    schema["properties"] = {
        **VALIDATION_ERROR_SCHEMA["properties"],  # type: ignore[dict-item]
        "code": {"type": "string", "enum": ["validation_error", *codes]},
    }
    return schema


def error_responses(
    *statuses: int, validation_codes: tuple[str, ...] = ()
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer
    (a 422's `code` may be one of `validation_codes` too: `invalid_ticket`)."""
    return {
        status: {
            "description": CODE_FOR_STATUS.get(status, "error"),
            "content": {
                "application/json": {
                    "schema": _validation_error_schema(validation_codes)
                    if status == 422
                    else ERROR_SCHEMA
                }
            },
            **(
                {"headers": _HEADERS_BY_STATUS[status]}
                if status in _HEADERS_BY_STATUS
                else {}
            ),
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
