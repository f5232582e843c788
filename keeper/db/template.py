from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class OrgTemplate(SQLModel, table=True):
    """An org's replacement for one of the templates of the pages keeper
    generates (see :mod:`keeper.pages.render`)."""

    __tablename__ = "org_template"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    #: One of :data:`keeper.pages.render.TEMPLATES`.
    name: str = Field(max_length=64)
    source: str = Field(sa_type=Text)
    updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
