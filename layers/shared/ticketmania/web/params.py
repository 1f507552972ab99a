"""Request parameters every function shares: ids in paths and list pages."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

# Ids are Postgres bigints: anything past this is a 422, not a driver error.
MAX_ID = 2**63 - 1

_PLAIN_ID = re.compile(rf"[1-9][0-9]{{0,{len(str(MAX_ID)) - 1}}}")


def plain_positive_integer(value: object) -> object:
    """An id in a path is written `[1-9][0-9]*`: not `111.0`, `+111`, ` 111` or
    `0111`, which pydantic would read as 111 (docs/api.md)."""
    if isinstance(value, str) and not _PLAIN_ID.fullmatch(value):
        raise ValueError("must be a positive integer written in plain digits")
    return value


# An `{id}` path parameter: a positive bigint, in plain digits.
PathId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="The id", examples=[1]),
    BeforeValidator(plain_positive_integer),
]


class Page(BaseModel):
    """limit (1..100, default 20) and offset (default 0): every list takes them."""

    limit: int = Field(
        default=20, ge=1, le=100, description="Page size (1..100)", examples=[20]
    )
    offset: int = Field(
        default=0, ge=0, le=1_000_000, description="Rows to skip", examples=[0]
    )


def query_model(model: type[ModelT]) -> Callable[[Request], Awaitable[ModelT]]:
    """A dependency that reads `model` from the query string in one validation.

    FastAPI can do this itself (`Annotated[Model, Query()]`), but it walks the
    model field by field on every request, which was a large share of a cached
    listing's CPU (BENCHMARKS.md). Errors keep FastAPI's 422 shape, located in
    "query". Pair it with `query_model_doc(model)` so OpenAPI still lists the
    parameters.
    """

    async def parse(request: Request) -> ModelT:
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {**error, "loc": ("query", *error["loc"])}
                    for error in exc.errors(include_url=False)
                ]
            ) from None

    return parse


def query_model_doc(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` listing the model's fields as query parameters."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {
                    key: value
                    for key, value in field.items()
                    if key not in ("description", "examples", "title")
                },
                **(
                    {"description": field["description"]}
                    if "description" in field
                    else {}
                ),
                **({"example": field["examples"][0]} if field.get("examples") else {}),
            }
            for name, field in schema["properties"].items()
        ]
    }
