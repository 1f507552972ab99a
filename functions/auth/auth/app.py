"""AuthFunction's entry point. Handler: auth.app.handler."""

from __future__ import annotations

from auth.routes import router
from ticketmania.web import health
from ticketmania.web.function import build_function

# Tokens and profiles must not be kept by any cache (RFC 6749 §5.1).
function = build_function(
    title="TicketMania auth",
    routers=[router, health.router],
    response_headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    # Imported by the first signup or login, not before: loaded before a snapshot.
    warm_imports=("passlib.context", "argon2", "email_validator"),
)
app = function.app
handler = function.handler
