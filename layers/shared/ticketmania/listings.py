"""The public event listing: its query, its items, and GET /events answered as
ready-to-send JSON, cache-aside under a versioned Redis key.

In the layer because two parties serve it: EventsFunction answers visitors,
and the warm-cache job fills the first pages before any visitor asks.

A hit costs one Redis round trip and no database connection; the JSON is sent
as stored, validated once when it was built. Admin writes retire every entry
(`LISTING_NAMESPACE`'s version); otherwise an entry lives EVENTS_CACHE_TTL
seconds, which bounds how stale availability in a listing can be.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from ticketmania.cache import Cache, read_versioned, write_versioned
from ticketmania.db import events as event_table
from ticketmania.db.engine import SessionOpener
from ticketmania.db.events import EventFilter, EventSort
from ticketmania.observability import count, logger
from ticketmania.web.params import Page

LISTING_NAMESPACE = "events:list"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def as_utc(value: datetime) -> datetime:
    """Naive timestamps are read as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:59-01:00 has no UTC equivalent
        raise ValueError("timestamp out of range") from exc


_ISO_8601_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def iso_8601_only(value: object) -> object:
    """A timestamp is an ISO 8601 date-time, as the schema says: not a number
    pydantic would read as seconds since 1970, nor a bare date."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2027-06-01T19:30:00Z")
    return value


UtcDatetime = Annotated[
    datetime, BeforeValidator(iso_8601_only), AfterValidator(as_utc)
]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    location: str
    event_date: datetime
    total_seats: int
    available_seats: int
    currency: str
    buyers_cancel_lines: bool
    created_at: datetime
    updated_at: datetime


EVENT_LIST = TypeAdapter(list[EventOut])


class EventQuery(Page):
    """Query parameters of GET /events."""

    model_config = ConfigDict(extra="ignore")

    q: str | None = Field(
        default=None,
        max_length=200,
        description="Case-insensitive text in title or description",
        examples=["jazz"],
    )
    location: str | None = Field(
        default=None,
        max_length=200,
        description="Case-insensitive text in the location",
        examples=["berlin"],
    )
    date_from: UtcDatetime | None = Field(
        default=None,
        description="Events on or after this time (naive = UTC). Without it, only events not yet started.",
        examples=["2027-01-01T00:00:00Z"],
    )
    date_to: UtcDatetime | None = Field(
        default=None,
        description="Events on or before this time (naive = UTC)",
        examples=["2027-12-31T23:59:59Z"],
    )
    available_only: bool = Field(
        default=False, description="Only events with seats left"
    )
    sort: EventSort = Field(
        default="event_date",
        description="event_date (default, ascending), -event_date, title, -created_at; ties by id",
        examples=["-created_at"],
    )

    @field_validator("q", "location")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        # Normalised once here: the database filter and the cache key both read it.
        return (value or "").strip() or None

    @model_validator(mode="after")
    def _dates_in_order(self) -> EventQuery:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def cache_key(self) -> str:
        """The same key for the same listing, whatever order the parameters came
        in; a hash of canonical JSON, so no value can spell another. The texts
        fold the case of ASCII letters only, which Postgres' ILIKE folds alike
        in every collation: Python's `str.lower()` folds others its own way
        (`İ`, a final `ς`), and two searches Postgres answers differently must
        never share a page."""
        canonical = json.dumps(
            [
                self.limit,
                self.offset,
                (self.q or "").translate(_ASCII_LOWER),
                (self.location or "").translate(_ASCII_LOWER),
                self.date_from.isoformat() if self.date_from else None,
                self.date_to.isoformat() if self.date_to else None,
                self.available_only,
                self.sort,
            ]
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Listing:
    """A page of events as JSON, with the total for X-Total-Count."""

    body: bytes
    total: int

    def encode(self) -> bytes:
        return str(self.total).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Listing:
        total, _, body = raw.partition(b"\n")
        if not body.startswith(b"["):
            raise ValueError("not a cached listing")
        return cls(body=body, total=int(total))


def event_filter(query: EventQuery) -> EventFilter:
    return EventFilter(
        q=query.q,
        location=query.location,
        date_from=query.date_from,
        date_to=query.date_to,
        is_available_only=query.available_only,
    )


def cached_listing(
    open_session: SessionOpener,
    cache: Cache,
    query: EventQuery,
    *,
    ttl_seconds: int,
    clock: Callable[[], float] = time.monotonic,
) -> Listing:
    key = query.cache_key()
    version, cached = read_versioned(cache, LISTING_NAMESPACE, key)
    if cached is not None:
        try:
            listing = Listing.decode(cached)
        except ValueError:
            logger.warning("unreadable cached listing ignored")
            count("CacheGarbage")
        else:
            count("CacheHits")
            return listing
    count("CacheMisses")
    return _store_fresh(
        open_session,
        cache,
        query,
        version=version,
        ttl_seconds=ttl_seconds,
        clock=clock,
    )


def refresh_listing(
    open_session: SessionOpener,
    cache: Cache,
    query: EventQuery,
    *,
    ttl_seconds: int,
    clock: Callable[[], float] = time.monotonic,
) -> Listing:
    """Read the page from Postgres and store it, whatever the cache held: the
    warm-cache job, so the next visitor finds it fresh."""
    version, _ = read_versioned(cache, LISTING_NAMESPACE, query.cache_key())
    return _store_fresh(
        open_session,
        cache,
        query,
        version=version,
        ttl_seconds=ttl_seconds,
        clock=clock,
    )


def _store_fresh(
    open_session: SessionOpener,
    cache: Cache,
    query: EventQuery,
    *,
    version: int,
    ttl_seconds: int,
    clock: Callable[[], float],
) -> Listing:
    read_at = clock()
    with open_session() as session:
        rows, total = event_table.list_events(
            session,
            event_filter(query),
            sort=query.sort,
            limit=query.limit,
            offset=query.offset,
        )
        page = EVENT_LIST.validate_python(rows, from_attributes=True)
    listing = Listing(body=EVENT_LIST.dump_json(page), total=total)
    # The TTL counts from when the data was read, so a slow query cannot stretch
    # the staleness bound past EVENTS_CACHE_TTL. Stored under the version read
    # before the data was: an admin write in between retires it at once.
    ttl_left = ttl_seconds - (clock() - read_at)
    write_versioned(
        cache,
        LISTING_NAMESPACE,
        version,
        query.cache_key(),
        listing.encode(),
        ttl_seconds=ttl_left,
    )
    return listing
