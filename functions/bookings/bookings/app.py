"""BookingsFunction's entry point. Handler: bookings.app.handler."""

from __future__ import annotations

from bookings.routes import router
from ticketmania.web.function import build_function

function = build_function(title="TicketMania bookings", routers=[router])
app = function.app
handler = function.handler
