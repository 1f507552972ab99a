"""TicketsFunction's entry point. Handler: tickets.app.handler."""

from __future__ import annotations

from ticketmania.tickets import get_key_ring
from ticketmania.web.function import build_function
from tickets.routes import router

# segno draws the first QR image: loaded before a snapshot.
function = build_function(
    title="TicketMania tickets", routers=[router], warm_imports=("segno",)
)
get_key_ring()  # a missing or bad ticket key fails the cold start, not a check-in
app = function.app
handler = function.handler
