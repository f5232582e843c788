"""Applying a partial update to a row, the same way for every resource."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from keeper.db.types import utcnow


class _Updatable(Protocol):
    updated: Any


R = TypeVar("R", bound=_Updatable)


def apply_changes(session: Session, row: R, changes: dict[str, Any]) -> R:
    """Set the given fields, stamp ``updated`` and commit."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated = utcnow()
    session.add(row)
    session.flush()
    session.refresh(row)
    return row
