"""Baselines with nothing of TicketMania in them.

`app`: served by uvicorn directly (`uvicorn benchmarks.bare_app:app --workers N`)
beside `ticketmania serve` with the same worker count: one POST route that
parses the booking body and returns a dict, `async def` like the product's
routes, so each worker serves one request at a time on its event loop.

`post_handler` and `get_handler`: a bare FastAPI + Mangum handler each, the
per-invocation CPU baselines: a sync POST route with a pydantic body returning
a dict, and an async GET route returning a dict.
"""

from __future__ import annotations

from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel


class BookingBody(BaseModel):
    event_id: int
    seats_booked: int


app = FastAPI()


@app.post("/bookings", status_code=201)
async def book(body: BookingBody) -> dict[str, object]:
    return {
        "event_id": body.event_id,
        "seats_booked": body.seats_booked,
        "status": "confirmed",
    }


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


post_app = FastAPI()


@post_app.post("/bookings", status_code=201)
def book_sync(body: BookingBody) -> dict[str, object]:
    return {
        "event_id": body.event_id,
        "seats_booked": body.seats_booked,
        "status": "confirmed",
    }


get_app = FastAPI()


@get_app.get("/events")
async def list_events() -> dict[str, object]:
    return {"events": [], "total": 0}


post_handler = Mangum(post_app, lifespan="off")
get_handler = Mangum(get_app, lifespan="off")
