"""Request and response models of the booking routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ticketmania.settings import get_settings
from ticketmania.web.params import MAX_ID


def _within_booking_limit(seats: int) -> int:
    # Read when a request is validated, not when this module loads.
    limit = get_settings().max_seats_per_booking
    if seats > limit:
        raise ValueError(f"Input should be less than or equal to {limit}")
    return seats


def _document_booking_limit(schema: dict[str, Any]) -> None:
    schema["maximum"] = get_settings().max_seats_per_booking


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
            strict=True,
            description="1..MAX_SEATS_PER_BOOKING (default 10)",
            json_schema_extra=_document_booking_limit,
        ),
        AfterValidator(_within_booking_limit),
    ]


class BookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    event_id: int
    seats_booked: int
    status: Literal["confirmed", "cancelled"]
    created_at: datetime
