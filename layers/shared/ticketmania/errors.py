"""Domain errors. Logic raises these; `ticketmania.web.error_handlers` turns them
into responses shaped `{"detail": ..., "code": ...}`.

AppError (status, code)
├── NotAuthenticated      401 not_authenticated
├── InvalidToken          401 invalid_token
├── InvalidCredentials    401 invalid_credentials
├── Forbidden             403 forbidden
│   ├── AdmissionRequired     403 admission_required
│   └── AdmissionInvalid      403 admission_invalid
├── NotFound              404 not_found
├── Conflict              409 conflict
│   ├── EmailTaken            409 email_taken
│   ├── SeatsBelowBooked      409 seats_below_booked
│   ├── SoldOut               409 sold_out
│   ├── EventClosed           409 event_closed
│   ├── LimitExceeded         409 limit_exceeded
│   ├── AlreadyCancelled      409 already_cancelled
│   ├── IdempotencyMismatch   409 idempotency_mismatch
│   ├── HoldExpired           409 hold_expired
│   ├── HoldExtensionLimit    409 hold_extension_limit
│   ├── NotHeld               409 not_held
│   ├── SeatsAvailable        409 seats_available
│   ├── AlreadyWaiting        409 already_waiting
│   ├── NotConfirmed          409 not_confirmed
│   ├── AlreadyCheckedIn      409 already_checked_in (+ checked_in_at)
│   ├── BookingCancelled      409 booking_cancelled
│   ├── WrongEvent            409 wrong_event
│   ├── NotOnSale             409 not_on_sale (+ ticket_type_id)
│   ├── TicketTypeInUse       409 ticket_type_in_use
│   ├── QuotaBelowUsed        409 quota_below_used
│   ├── CurrencyLocked        409 currency_locked
│   ├── PaymentRequired       409 payment_required
│   ├── NotPayable            409 not_payable
│   ├── AdmissionUsed         409 admission_used
│   ├── QueueNotOpen          409 queue_not_open
│   └── RefundExceedsCaptured 409 refund_exceeds_captured
├── InvalidSignature      400 invalid_signature
├── InvalidValue          422 validation_error (a value the database cannot store)
├── InvalidTicket         422 invalid_ticket
├── RateLimited           429 rate_limited (Retry-After)
└── Unavailable           503 unavailable (Retry-After)
"""

from __future__ import annotations

# Seconds a client is told to wait (Retry-After) when the database cannot serve it.
RETRY_AFTER_SECONDS = 5

# The code of an error the framework raises by status (routing, parsing) rather
# than the logic by class.
CODE_FOR_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"
    default_detail: str = "Internal server error"
    # Where in the request a 422 found the problem (its body keeps FastAPI's
    # shape: a list of {loc, msg, type} in `detail`).
    location: tuple[str, ...] = ("body",)

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, object] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.retry_after = retry_after
        self.extra_headers = headers or {}
        # More of the body than `detail` and `code` (already_checked_in's time).
        self.fields = fields or {}
        super().__init__(self.detail)

    @property
    def headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class NotAuthenticated(AppError):
    status, code, default_detail = 401, "not_authenticated", "Not authenticated"


class InvalidToken(AppError):
    status, code, default_detail = 401, "invalid_token", "Invalid or expired token"


class InvalidCredentials(AppError):
    status, code, default_detail = (
        401,
        "invalid_credentials",
        "Incorrect email or password",
    )


class Forbidden(AppError):
    status, code, default_detail = 403, "forbidden", "Not allowed"


class AdmissionRequired(Forbidden):
    code, default_detail = (
        "admission_required",
        "This event's sale goes through its waiting room: join the queue "
        "(POST /events/{id}/queue) and send its X-Admission-Token",
    )


class AdmissionInvalid(Forbidden):
    code, default_detail = (
        "admission_invalid",
        "The admission token is not valid for this event and user, or has expired",
    )


class NotFound(AppError):
    status, code, default_detail = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, default_detail = 409, "conflict", "Conflict with the current state"


class EmailTaken(Conflict):
    code, default_detail = "email_taken", "An account with this email already exists"


class SeatsBelowBooked(Conflict):
    code, default_detail = (
        "seats_below_booked",
        "total_seats cannot go below the seats booked",
    )


class SoldOut(Conflict):
    code, default_detail = "sold_out", "Not enough seats left"


class EventClosed(Conflict):
    code, default_detail = "event_closed", "The event is closed"


class LimitExceeded(Conflict):
    code, default_detail = "limit_exceeded", "Too many seats for one user on this event"


class AlreadyCancelled(Conflict):
    code, default_detail = "already_cancelled", "The booking is already cancelled"


class IdempotencyMismatch(Conflict):
    code, default_detail = (
        "idempotency_mismatch",
        "This Idempotency-Key was used with a different request",
    )


class HoldExpired(Conflict):
    code, default_detail = (
        "hold_expired",
        "The hold has expired: its seats are released",
    )


class HoldExtensionLimit(Conflict):
    code, default_detail = (
        "hold_extension_limit",
        "The hold cannot be extended any further",
    )


class NotHeld(Conflict):
    code, default_detail = "not_held", "The booking is not a hold"


class SeatsAvailable(Conflict):
    code, default_detail = (
        "seats_available",
        "The seats can be booked now: no need to wait",
    )


class AlreadyWaiting(Conflict):
    code, default_detail = "already_waiting", "You are on this event's waitlist already"


class NotConfirmed(Conflict):
    code, default_detail = (
        "not_confirmed",
        "Only a confirmed booking has a ticket",
    )


class AlreadyCheckedIn(Conflict):
    code, default_detail = "already_checked_in", "This ticket is checked in already"


class BookingCancelled(Conflict):
    code, default_detail = "booking_cancelled", "This ticket's booking is cancelled"


class WrongEvent(Conflict):
    code, default_detail = "wrong_event", "This ticket is for another event"


class NotOnSale(Conflict):
    code, default_detail = "not_on_sale", "This ticket type is not on sale now"


class TicketTypeInUse(Conflict):
    code, default_detail = (
        "ticket_type_in_use",
        "Tickets of this type were sold: it cannot be deleted",
    )


class QuotaBelowUsed(Conflict):
    code, default_detail = (
        "quota_below_used",
        "A quota cannot be smaller than the seats its orders hold",
    )


class CurrencyLocked(Conflict):
    code, default_detail = (
        "currency_locked",
        "The event's currency cannot change once anything is sold",
    )


class PaymentRequired(Conflict):
    code, default_detail = (
        "payment_required",
        "A priced order is confirmed by its payment: POST /orders/{id}/payments",
    )


class NotPayable(Conflict):
    code, default_detail = "not_payable", "This order takes no payment now"


class RefundExceedsCaptured(Conflict):
    code, default_detail = (
        "refund_exceeds_captured",
        "Refunds cannot exceed what the payment captured",
    )


class InvalidSignature(AppError):
    status, code, default_detail = (
        400,
        "invalid_signature",
        "The webhook's signature is missing, wrong or too old",
    )


class InvalidTicket(AppError):
    """A 422 in FastAPI's shape (a list in `detail`), located at the body's code."""

    status, code, default_detail = (
        422,
        "invalid_ticket",
        "Not a ticket code this service signed",
    )
    location = ("body", "code")


class InvalidValue(AppError):
    """A value that passed validation but the database cannot store (a NUL character)."""

    location = ("body",)

    status, code, default_detail = (
        422,
        "validation_error",
        "A value in the request cannot be stored",
    )


class RateLimited(AppError):
    status, code, default_detail = 429, "rate_limited", "Too many requests"


class Unavailable(AppError):
    status, code, default_detail = 503, "unavailable", "Service temporarily unavailable"

    def __init__(
        self, detail: str | None = None, *, retry_after: int = RETRY_AFTER_SECONDS
    ) -> None:
        super().__init__(detail, retry_after=retry_after)


class AdmissionUsed(Conflict):
    code, default_detail = (
        "admission_used",
        "This admission was used already: one order or hold per admission",
    )


class QueueNotOpen(Conflict):
    code, default_detail = "queue_not_open", "The waiting room is not open yet"
