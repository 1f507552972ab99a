"""BookingsFunction's entry point. Handler: bookings.app.handler."""

from __future__ import annotations

from bookings import order_routes, routes, waitlist_routes
from ticketmania.web.function import build_function

function = build_function(
    title="TicketMania bookings",
    routers=[routes.router, order_routes.router, waitlist_routes.router],
)
app = function.app
handler = function.handler
