"""EventsFunction's entry point. Handler: events.app.handler."""

from __future__ import annotations

from events import routes, ticket_type_routes, waiting_room_routes
from ticketmania.web.function import build_function

function = build_function(
    title="TicketMania events",
    routers=[routes.router, ticket_type_routes.router, waiting_room_routes.router],
)
app = function.app
handler = function.handler
