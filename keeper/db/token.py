from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class Role(StrEnum):
    reader = "reader"
    uploader = "uploader"
    admin = "admin"
    superadmin = "superadmin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Token(SQLModel, table=True):
    """An API token. Only its sha256 is stored; the secret is shown once."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    #: The first characters of the secret, to recognise it in listings.
    hint: str = Field(max_length=16)
    name: str = Field(default="", max_length=200)
    role: Role = Field(sa_type=String(16))
    #: None only for superadmin tokens.
    org_id: int | None = Field(default=None, foreign_key="organization.id")
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires: datetime | None = Field(default=None, sa_type=UTCDateTime)
