"""The objects a product's store holds, once each, by content hash."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, String
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class ObjectState(StrEnum):
    #: The bytes are in the store and hash to ``sha256``: builds may use it.
    present = "present"
    #: Garbage collection chose it and is deleting its bytes: nobody may be
    #: told it is held, and nobody may place it again until the row is gone.
    deleting = "deleting"


class StoredObject(SQLModel, table=True):
    """One object at ``<product>/_objects/<sha256[:2]>/<sha256>``.

    Keeper writes a row only after it hashed the bytes it placed, so every
    present object holds what its name says; a build's files point at
    objects by ``sha256`` (``build_file.sha256``).
    """

    __tablename__ = "stored_object"

    product_id: int = Field(foreign_key="product.id", primary_key=True)
    sha256: str = Field(max_length=64, primary_key=True)
    size: int = Field(sa_type=BigInteger)
    state: ObjectState = Field(default=ObjectState.present, sa_type=String(16))
    #: When a registration last said the product holds it (or keeper placed
    #: it, or a build that used it was deleted): garbage collection leaves
    #: it alone for a grace period after that, so an upload that was told
    #: "held" never loses it before its build's rows reference it.
    claimed: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
