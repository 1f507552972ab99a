"""Request, query and response models of the event routes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from ticketmania.db.events import EventSort
from ticketmania.web.params import Page

MAX_TOTAL_SEATS = 1_000_000


def as_utc(value: datetime) -> datetime:
    """Naive timestamps are read as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:59-01:00 has no UTC equivalent
        raise ValueError("timestamp out of range") from exc


def in_the_future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("event_date must be in the future")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
FutureDatetime = Annotated[
    datetime, AfterValidator(as_utc), AfterValidator(in_the_future)
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Location = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Description = Annotated[str, StringConstraints(max_length=5000)]
Seats = Annotated[int, Field(ge=1, le=MAX_TOTAL_SEATS, strict=True)]

_EXAMPLE: dict[str, Any] = {
    "title": "Flash Sale Live",
    "description": "One night only.",
    "location": "Berlin, Tempodrom",
    "event_date": "2027-06-01T19:30:00Z",
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

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> EventUpdate:
        for name in ("title", "location", "event_date", "total_seats"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    location: str
    event_date: datetime
    total_seats: int
    available_seats: int
    created_at: datetime
    updated_at: datetime


EVENT_LIST = TypeAdapter(list[EventOut])


class EventQuery(Page):
    """Query parameters of GET /events."""

    model_config = ConfigDict(extra="ignore")

    q: str | None = Field(
        default=None,
        max_length=200,
        description="Case-insensitive text in title or description",
        examples=["jazz"],
    )
    location: str | None = Field(
        default=None,
        max_length=200,
        description="Case-insensitive text in the location",
        examples=["berlin"],
    )
    date_from: UtcDatetime | None = Field(
        default=None,
        description="Events on or after this time (naive = UTC). Without it, only events not yet started.",
        examples=["2027-01-01T00:00:00Z"],
    )
    date_to: UtcDatetime | None = Field(
        default=None,
        description="Events on or before this time (naive = UTC)",
        examples=["2027-12-31T23:59:59Z"],
    )
    available_only: bool = Field(
        default=False, description="Only events with seats left"
    )
    sort: EventSort = Field(
        default="event_date",
        description="event_date (default, ascending), -event_date, title, -created_at; ties by id",
        examples=["-created_at"],
    )

    @field_validator("q", "location")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        # Normalised once here: the database filter and the cache key both read it.
        return (value or "").strip() or None

    @model_validator(mode="after")
    def _dates_in_order(self) -> EventQuery:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def cache_key(self) -> str:
        """The same key for the same listing, whatever order or letter case the
        parameters came in; a hash of canonical JSON, so no value can spell another."""
        canonical = json.dumps(
            [
                self.limit,
                self.offset,
                (self.q or "").lower(),
                (self.location or "").lower(),
                self.date_from.isoformat() if self.date_from else None,
                self.date_to.isoformat() if self.date_to else None,
                self.available_only,
                self.sort,
            ]
        )
        return hashlib.sha256(canonical.encode()).hexdigest()
