"""Data access for the outbox table: side effects written with their cause, sent after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ticketmania.db.models import OutboxMessage


def add_message(session: Session, *, topic: str, payload: dict[str, Any]) -> None:
    session.add(OutboxMessage(topic=topic, payload=payload))
