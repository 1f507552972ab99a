"""Request and response models of the ticket routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ticketmania.web.params import MAX_ID


class TicketLine(BaseModel):
    ticket_type_id: int
    quantity: int


class TicketOut(BaseModel):
    booking_id: int
    event_id: int
    seats: int
    holder: str = Field(description="The name of the booking's owner")
    code: str = Field(
        description="The signed code (Ed25519, base64url; 136 characters for one "
        "line, 14 more per further line): what the door scans; GET /tickets/keys "
        "verifies it offline"
    )
    lines: list[TicketLine] = Field(description="The order's types and quantities")
    qr_svg: str = Field(description="The code as a QR image, SVG markup")


class CheckInRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"code": "AQ...", "event_id": 1}]},
    )

    code: Annotated[str, Field(min_length=1, max_length=400)]
    event_id: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=MAX_ID,
            strict=True,
            description="The event the door is for: a ticket of another is 409 wrong_event",
        ),
    ] = None


class CheckInOut(BaseModel):
    booking_id: int
    event_id: int
    seats: int
    holder: str
    checked_in_at: datetime


class TypeCountsOut(BaseModel):
    ticket_type_id: int
    name: str
    confirmed_seats: int
    checked_in_seats: int


class DoorCountsOut(BaseModel):
    confirmed_seats: int
    checked_in_seats: int
    bookings_checked_in: int
    by_type: list[TypeCountsOut] = Field(
        description="The same per ticket type (every type of the event, sold or not)"
    )


class KeySet(BaseModel):
    """A JWK Set (RFC 7517) of Ed25519 public keys (RFC 8037)."""

    keys: list[dict[str, str]]
