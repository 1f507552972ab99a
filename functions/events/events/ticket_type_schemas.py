"""Request and response models of the ticket type and quota routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from events.schemas import MAX_TOTAL_SEATS
from ticketmania.listings import as_utc, iso_8601_only
from ticketmania.web.params import MAX_ID

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
# Minor units (cents): at most 10^12, far below bigint and any real price.
Price = Annotated[int, Field(ge=0, le=10**12, strict=True)]
Moment = Annotated[datetime, BeforeValidator(iso_8601_only), AfterValidator(as_utc)]
MaxPerOrder = Annotated[int, Field(ge=1, le=MAX_TOTAL_SEATS, strict=True)]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True)]
QuotaSize = Annotated[int, Field(ge=0, le=MAX_TOTAL_SEATS, strict=True)]
TypeIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]],
    Field(max_length=100),
    AfterValidator(lambda ids: sorted(set(ids))),
]


def _window_in_order(starts: datetime | None, ends: datetime | None) -> None:
    if starts is not None and ends is not None and ends <= starts:
        raise ValueError("sale_ends_at must be after sale_starts_at")


class TicketTypeCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"name": "VIP", "price_minor": 12900, "max_per_order": 4},
                {
                    "name": "Early bird",
                    "price_minor": 3900,
                    "sale_ends_at": "2030-05-01T00:00:00Z",
                },
            ]
        },
    )

    name: Name
    price_minor: Price
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    max_per_order: MaxPerOrder | None = None
    position: Position = 0

    @model_validator(mode="after")
    def _window(self) -> TicketTypeCreate:
        _window_in_order(self.sale_starts_at, self.sale_ends_at)
        return self


class TicketTypeUpdate(BaseModel):
    """Any subset of the create fields; null clears a window end or the max."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"price_minor": 4900}]}
    )

    name: Name | None = None
    price_minor: Price | None = None
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    max_per_order: MaxPerOrder | None = None
    position: Position | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> TicketTypeUpdate:
        for name in ("name", "price_minor", "position"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class TicketTypeOut(BaseModel):
    id: int
    event_id: int
    name: str
    price_minor: int
    currency: str
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    max_per_order: int | None
    position: int
    is_default: bool = Field(description="The type POST /bookings sells")
    on_sale: bool
    available: int = Field(
        description="The least, over the event and every quota counting the "
        "type, of size - confirmed - live holds"
    )


class QuotaCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"name": "Floor", "size": 200, "ticket_type_ids": [3, 4]},
                {
                    "name": "Early bird",
                    "size": 100,
                    "ticket_type_ids": [5],
                    "close_when_sold_out": True,
                },
            ]
        },
    )

    name: Name
    size: QuotaSize
    ticket_type_ids: TypeIds
    close_when_sold_out: Annotated[bool, Field(strict=True)] = False


class QuotaUpdate(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"size": 250}]}
    )

    name: Name | None = None
    size: QuotaSize | None = None
    ticket_type_ids: TypeIds | None = None

    @model_validator(mode="after")
    def _not_null(self) -> QuotaUpdate:
        for name in ("name", "size", "ticket_type_ids"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class QuotaOut(BaseModel):
    id: int
    event_id: int
    name: str
    size: int
    ticket_type_ids: list[int]
    close_when_sold_out: bool
    confirmed: int
    held: int = Field(description="Seats of live holds")
    available: int
    closed: bool = Field(
        description="Sold out once with close_when_sold_out: it sells no more"
    )
