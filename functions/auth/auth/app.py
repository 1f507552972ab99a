"""AuthFunction's entry point. Handler: auth.app.handler."""

from __future__ import annotations

from auth.routes import router
from ticketmania.web import health
from ticketmania.web.function import build_function

function = build_function(title="TicketMania auth", routers=[router, health.router])
app = function.app
handler = function.handler
