"""One page of rows and the total matching, for every paginated list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def page_query(
    entity: type[Any],
    conditions: Sequence[ColumnElement[bool]],
    *,
    order_by: Sequence[Any],
    limit: int,
    offset: int,
) -> Select[Any]:
    """The page's rows, each carrying the total as a window count."""
    total = func.count().over().label("total")
    return (
        select(entity, total)
        .where(*conditions)
        .order_by(*order_by)
        .limit(limit)
        .offset(offset)
    )


def fetch_page(
    session: Session,
    entity: type[T],
    conditions: Sequence[ColumnElement[bool]],
    *,
    order_by: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[list[T], int]:
    """One page and the total matching, in one round trip."""
    statement = page_query(
        entity, conditions, order_by=order_by, limit=limit, offset=offset
    )
    rows = session.execute(statement).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][1])
    # Past the last page the window count has no row to ride on.
    total = session.scalar(select(func.count()).select_from(entity).where(*conditions))
    return [], int(total or 0)
