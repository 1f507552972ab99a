"""Request and response models of the booking routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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
        json_schema_extra={
            "examples": [
                {"event_id": 1, "seats_booked": 2},
                {"event_id": 1, "seats_booked": 2, "hold": True},
            ]
        },
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
    hold: Annotated[
        bool,
        Field(
            strict=True,
            description="Hold the seats for HOLD_SECONDS (default 900) instead of "
            "booking them: confirm with POST /bookings/{id}/confirm",
        ),
    ] = False


class BookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    event_id: int
    seats_booked: int
    status: Literal["confirmed", "cancelled", "held", "expired"]
    created_at: datetime
    # Left out of the body when there is none: a booking's body is what it
    # always was; a hold's adds when it ends.
    expires_at: datetime | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="When a hold ends: on holds (held, expired) only; a booking "
        "made without a hold, or confirmed, has none",
    )

    @model_validator(mode="after")
    def _ended_hold_reads_expired(self) -> BookingOut:
        # From its end on a hold reads "expired", whether or not it is settled.
        ends = self.expires_at
        if self.status == "held" and ends is not None and ends <= datetime.now(UTC):
            self.status = "expired"
        return self


class WaitlistJoin(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"seats": 2}, {"seats": 1, "ticket_type_id": 3}]
        },
    )

    ticket_type_id: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_ID,
            strict=True,
            description="The type the offer is to be of (default: the event's default type)",
        ),
    ] = None

    seats: Annotated[
        int,
        Field(
            ge=1,
            strict=True,
            description="1..MAX_SEATS_PER_BOOKING (default 10)",
            json_schema_extra=_document_booking_limit,
        ),
        AfterValidator(_within_booking_limit),
    ]


class WaitlistEntryOut(BaseModel):
    event_id: int
    user_id: int
    seats: int
    ticket_type_id: int | None = Field(
        description="The type asked for; null: the event's default type"
    )
    status: Literal["waiting", "offered", "accepted", "expired", "left"]
    position: int | None = Field(
        description="1 for the first in line, counting only entries waiting or "
        "offered; null once the entry has left the line"
    )
    booking_id: int | None = Field(description="The offer's hold, once offered")
    offer_expires_at: datetime | None
    created_at: datetime


MAX_ORDER_LINES = 20


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket_type_id: Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
    quantity: Annotated[int, Field(ge=1, strict=True)]


def _distinct_types_within_limit(lines: list[OrderLineIn]) -> list[OrderLineIn]:
    if len({line.ticket_type_id for line in lines}) != len(lines):
        raise ValueError("Each ticket type may appear in one line only")
    _within_booking_limit(sum(line.quantity for line in lines))
    return lines


class OrderCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "event_id": 1,
                    "lines": [
                        {"ticket_type_id": 3, "quantity": 2},
                        {"ticket_type_id": 4, "quantity": 1},
                    ],
                },
                {
                    "event_id": 1,
                    "lines": [{"ticket_type_id": 3, "quantity": 1}],
                    "hold": True,
                },
            ]
        },
    )

    event_id: Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
    lines: Annotated[
        list[OrderLineIn],
        Field(
            min_length=1,
            max_length=MAX_ORDER_LINES,
            description="One line per ticket type; the quantities together at most "
            "MAX_SEATS_PER_BOOKING (default 10)",
        ),
        AfterValidator(_distinct_types_within_limit),
    ]
    hold: Annotated[
        bool,
        Field(
            strict=True,
            description="Hold the seats for HOLD_SECONDS (default 900) instead of "
            "buying them: confirm with POST /orders/{id}/confirm",
        ),
    ] = False


class OrderLineOut(BaseModel):
    ticket_type_id: int
    quantity: int
    unit_price_minor: int


ORDER_STATUS = {"held": "pending", "confirmed": "paid"}


class OrderOut(BaseModel):
    id: int
    user_id: int
    event_id: int
    status: Literal["pending", "paid", "cancelled", "expired"] = Field(
        description="pending: its seats held until expires_at (a priced order "
        "until it is paid, or a hold); paid: confirmed (by its payment, or at "
        "once when free)"
    )
    currency: str
    total_minor: int = Field(
        description="The sum of quantity x unit price, at creation"
    )
    refunded_minor: int = Field(description="Refunds decided, done or under way")
    created_at: datetime
    expires_at: datetime | None = Field(description="When a hold ends; null otherwise")
    lines: list[OrderLineOut]
