"""Keyset pagination shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    limit: int
    #: The id of the last item of the previous page.
    after: int | None = None
    newest_first: bool = False


@dataclass(frozen=True)
class PageResult(Generic[T]):
    items: list[T]
    next_after: int | None


def paginate(
    session: Session, query: SelectOfScalar[Any], id_column: Any, page: Page
) -> PageResult[Any]:
    column = col(id_column)
    if page.after is not None:
        query = query.where(
            column < page.after if page.newest_first else column > page.after
        )
    query = query.order_by(column.desc() if page.newest_first else column)
    rows = list(session.exec(query.limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return PageResult(rows, rows[-1].id if more and rows else None)


__all__ = ["Page", "PageResult", "paginate", "select"]
