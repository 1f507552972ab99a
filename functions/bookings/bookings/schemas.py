"""Request and response models of the booking routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketmania.pagination import MAX_ID
from ticketmania.settings import get_settings


class BookingCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"event_id": 1, "seats_booked": 2}]},
    )

    # strict: 2.0, "2" and true are not seat counts.
    event_id: Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
    seats_booked: Annotated[
        int,
        Field(
            ge=1,
            le=get_settings().max_seats_per_booking,
            strict=True,
            description="1..MAX_SEATS_PER_BOOKING (default 10)",
        ),
    ]


class BookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    event_id: int
    seats_booked: int
    status: Literal["confirmed", "cancelled"]
    created_at: datetime
