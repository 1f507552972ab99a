"""EventsFunction's entry point. Handler: events.app.handler."""

from __future__ import annotations

from events.routes import router
from ticketmania.web.function import build_function

function = build_function(title="TicketMania events", routers=[router])
app = function.app
handler = function.handler
