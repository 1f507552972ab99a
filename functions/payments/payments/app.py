"""PaymentsFunction's entry point. Handler: payments.app.handler."""

from __future__ import annotations

from payments.routes import router
from ticketmania.payments import get_provider
from ticketmania.web.function import build_function

function = build_function(title="TicketMania payments", routers=[router])
get_provider()  # a missing or refused provider fails the cold start, not a payment
app = function.app
handler = function.handler
