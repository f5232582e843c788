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
    #: ``keeper edge agent``: reads its org's edge configurations and
    #: reports what it applied; nothing else (not even a reader's rights).
    edge = "edge"

    def grants(self, needed: Role) -> bool:
        """Whether a token of this role may do what ``needed`` may."""
        if self is Role.superadmin:
            return True
        if needed is Role.edge:
            return self in (Role.edge, Role.admin)
        if self is Role.edge:
            return False
        return _RANKS.index(self) >= _RANKS.index(needed)


#: The roles in order, each with the rights of those before it.
_RANKS = [Role.reader, Role.uploader, Role.admin, Role.superadmin]


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
