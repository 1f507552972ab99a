"""Request parameters every function shares: ids in paths and list pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

# Ids are Postgres bigints: anything past this is a 422, not a driver error.
MAX_ID = 2**63 - 1

# An `{id}` path parameter: a positive bigint.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="The id", examples=[1])]


class Page(BaseModel):
    """limit (1..100, default 20) and offset (default 0): every list takes them."""

    limit: int = Field(
        default=20, ge=1, le=100, description="Page size (1..100)", examples=[20]
    )
    offset: int = Field(
        default=0, ge=0, le=1_000_000, description="Rows to skip", examples=[0]
    )
