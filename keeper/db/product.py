from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class Product(SQLModel, table=True):
    """One documentation project within an organization."""

    __table_args__ = (UniqueConstraint("org_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    slug: str = Field(max_length=63)
    title: str = Field(max_length=200)
    source_repo_url: str | None = Field(default=None, max_length=1000)
    #: Redirect rules applied before editions are resolved, as
    #: ``{"from", "to", "status"}`` dicts (see :mod:`keeper.edge.redirects`).
    redirects: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON)
    )
    #: Bumped by every publish: writing it takes the row lock that
    #: serializes concurrent confirmations of the same product.
    publish_seq: int = Field(default=0)
    #: The ``publish_seq`` whose state the stored pages show.
    pages_seq: int = Field(default=0)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
