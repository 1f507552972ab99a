"""Why an order's line cannot be had, said about the ticket type it names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from ticketmania.db import ticket_types as ticket_type_table
from ticketmania.errors import LimitExceeded, NotFound, NotOnSale, SoldOut


class Line(Protocol):
    @property
    def ticket_type_id(self) -> int: ...

    @property
    def quantity(self) -> int: ...


def refuse_unsellable(
    session: Session, event_id: int, lines: Sequence[Line], *, now: datetime
) -> None:
    """Raise for the first line the order statement could not sell: a type
    not of the event (404), over its max_per_order (409 limit_exceeded),
    outside its sale window or deleted (409 not_on_sale)."""
    types = {t.id: t for t in ticket_type_table.list_for_event(session, event_id)}
    for line in lines:
        ticket_type = types.get(line.ticket_type_id)
        if ticket_type is None and ticket_type_table.is_deleted_of(
            session, event_id, line.ticket_type_id
        ):
            raise NotOnSale(
                f"Ticket type {line.ticket_type_id} is no longer sold",
                fields={"ticket_type_id": line.ticket_type_id},
            )
        if ticket_type is None:
            raise NotFound(
                f"Ticket type {line.ticket_type_id} not found for this event",
                fields={"ticket_type_id": line.ticket_type_id},
            )
        if (
            ticket_type.max_per_order is not None
            and line.quantity > ticket_type.max_per_order
        ):
            raise LimitExceeded(
                f"At most {ticket_type.max_per_order} of '{ticket_type.name}' per order",
                fields={"ticket_type_id": ticket_type.id},
            )
        if not ticket_type.is_on_sale(now):
            raise NotOnSale(
                f"'{ticket_type.name}' is not on sale now",
                fields={"ticket_type_id": ticket_type.id},
            )
    # Every line sellable now: the type changed back while the order ran.
    raise NotOnSale("A ticket type of the order was not on sale; try again")


def sold_out_of(session: Session, ticket_type_id: int) -> SoldOut:
    """409 sold_out naming the type whose quota could not give the seats."""
    ticket_type = ticket_type_table.get(session, ticket_type_id)
    name = ticket_type.name if ticket_type is not None else str(ticket_type_id)
    return SoldOut(
        f"Not enough '{name}' tickets left",
        fields={"ticket_type_id": ticket_type_id},
    )
