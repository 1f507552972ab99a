"""BookingsFunction's entry point. Handler: bookings.app.handler."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from bookings.routes import router
from ticketmania.api import create_app
from ticketmania.observability import lambda_entry
from ticketmania.settings import get_settings

get_settings()  # a bad configuration fails the cold start, not the first request

app = create_app(title="TicketMania bookings", routers=[router])
asgi = Mangum(app, lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asgi(event, context)  # type: ignore[arg-type]
