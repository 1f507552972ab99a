"""Bodies and answers of the waiting room routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ticketmania.listings import UtcDatetime


class WaitingRoomIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "enabled": True,
                    "opens_at": "2030-05-01T09:45:00Z",
                    "on_sale_at": "2030-05-01T10:00:00Z",
                    "admit_per_minute": 600,
                    "max_active_holds": 500,
                    "admission_ttl_seconds": 600,
                }
            ]
        },
    )

    enabled: Annotated[bool, Field(strict=True)]
    opens_at: UtcDatetime
    on_sale_at: UtcDatetime
    admit_per_minute: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
    max_active_holds: Annotated[int | None, Field(ge=1, le=1_000_000, strict=True)] = (
        None
    )
    admission_ttl_seconds: Annotated[int, Field(ge=10, le=86_400, strict=True)] = 600

    @model_validator(mode="after")
    def _opens_before_the_sale(self) -> WaitingRoomIn:
        if self.on_sale_at < self.opens_at:
            raise ValueError("on_sale_at cannot be before opens_at")
        return self


class WaitingRoomOut(BaseModel):
    event_id: int
    enabled: bool
    opens_at: datetime
    on_sale_at: datetime
    admit_per_minute: int
    max_active_holds: int | None
    admission_ttl_seconds: int


class QueueEntryOut(BaseModel):
    status: Literal["prequeue", "waiting", "admitted", "expired"]
    position: int | None = Field(
        description="Your place; null in the pre-queue (places are drawn at on_sale_at)"
    )
    serving: int = Field(description="Places up to this one are admitted")
    ahead: int
    estimated_wait_seconds: int | None


class QueueMeOut(QueueEntryOut):
    admission_token: str | None = Field(
        default=None,
        description="Once admitted: send it as X-Admission-Token with one order or "
        "hold (a JWT, verified by GET /tickets/keys)",
    )
    admission_expires_at: datetime | None = None


class QueueStateOut(BaseModel):
    serving: int
    waiting: int
    status: Literal["off", "scheduled", "prequeue", "open"]
