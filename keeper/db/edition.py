from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow
from keeper.domain.editions import MAIN_EDITION

__all__ = [
    "MAIN_EDITION",
    "Edition",
    "EditionHistory",
    "EditionKind",
    "PublishStatus",
]


class EditionKind(StrEnum):
    main = "main"
    release = "release"
    major = "major"
    minor = "minor"
    draft = "draft"
    alternate = "alternate"


class PublishStatus(StrEnum):
    #: Its current build is not yet on every page and every recorded edge.
    pending = "pending"
    #: Every page and every recorded edge of the org shows its current build.
    published = "published"
    #: A job that had to show it gave up; ``publish_error`` says why.
    failed = "failed"


class Edition(SQLModel, table=True):
    """A named, stable pointer to a build."""

    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    slug: str = Field(max_length=100)
    title: str = Field(max_length=200)
    kind: EditionKind = Field(default=EditionKind.draft, sa_type=String(16))
    tracking_mode: str = Field(default="git_ref", max_length=32)
    tracking_params: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON)
    )
    build_id: int | None = Field(default=None, foreign_key="build.id")
    hidden: bool = False
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: When the edition last switched build.
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    publish_status: PublishStatus = Field(
        default=PublishStatus.published, sa_type=String(16)
    )
    #: The product's ``publish_seq`` when it last switched: the pages and
    #: each edge must have applied that state (or a later one).
    publish_seq: int = 0
    #: When its last switch reached every page and edge.
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    publish_error: str | None = None


class EditionHistory(SQLModel, table=True):
    """Every change of an edition's pointer, newest last.

    Builds are referred to by public id so the log outlives deleted builds.
    """

    __tablename__ = "edition_history"

    id: int | None = Field(default=None, primary_key=True)
    edition_id: int = Field(foreign_key="edition.id", index=True)
    build_public_id: str | None = Field(default=None, max_length=32)
    previous_build_public_id: str | None = Field(default=None, max_length=32)
    #: ``tracking``, ``rollback`` or ``manual``.
    reason: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=200)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
