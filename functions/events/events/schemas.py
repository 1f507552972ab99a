"""Request, query and response models of the event routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ticketmania.listings import EventOut, EventQuery, as_utc, iso_8601_only

__all__ = ["EventCreate", "EventOut", "EventQuery", "EventUpdate"]

MAX_TOTAL_SEATS = 1_000_000


def in_the_future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("event_date must be in the future")
    return value


FutureDatetime = Annotated[
    datetime,
    BeforeValidator(iso_8601_only),
    AfterValidator(as_utc),
    AfterValidator(in_the_future),
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Location = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Description = Annotated[str, StringConstraints(max_length=5000)]
Seats = Annotated[int, Field(ge=1, le=MAX_TOTAL_SEATS, strict=True)]
BuyersCancelLines = Annotated[
    bool,
    Field(
        strict=True,
        description="Buyers may cancel one line of their own paid order "
        "(its price refunded); an admin always may",
    ),
]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 code, upper case", examples=["EUR"]),
]

_EXAMPLE: dict[str, Any] = {
    "title": "Flash Sale Live",
    "description": "One night only.",
    "location": "Berlin, Tempodrom",
    "event_date": "2030-06-01T19:30:00Z",
    "total_seats": 500,
}


class EventCreate(BaseModel):
    # available_seats (or anything unknown) in the body is ignored: it is derived.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [_EXAMPLE]},
    )

    title: Title
    description: Description | None = None
    location: Location
    event_date: FutureDatetime
    total_seats: Seats
    currency: Currency = "EUR"
    buyers_cancel_lines: BuyersCancelLines = False


class EventUpdate(BaseModel):
    """Any subset of the create fields; `description: null` clears it."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"total_seats": 600}, {"title": "New title"}]},
    )

    title: Title | None = None
    description: Description | None = None
    location: Location | None = None
    event_date: FutureDatetime | None = None
    total_seats: Seats | None = None
    currency: Currency | None = None
    buyers_cancel_lines: BuyersCancelLines | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> EventUpdate:
        for name in (
            "title",
            "location",
            "event_date",
            "total_seats",
            "currency",
            "buyers_cancel_lines",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self
