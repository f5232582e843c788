from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from keeper.db.types import UTCDateTime, utcnow


class EdgeConfig(SQLModel, table=True):
    """An edge that keeper rendered a configuration for and keeps current.

    ``keeper edge render`` records one; every publish in the org then
    rewrites the files in ``out_dir`` (or calls Fastly's API) and tells the
    running server to pick them up.
    """

    __tablename__ = "edge_config"
    __table_args__ = (UniqueConstraint("org_id", "target", "out_dir"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    #: ``nginx``, ``varnish`` or ``fastly``.
    target: str = Field(max_length=16)
    out_dir: str = Field(max_length=1000)
    #: ``HOST:PORT`` the edge listens on.
    listen: str = Field(max_length=255)
    #: Target-specific options (Fastly service id, varnishd instance name …).
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    #: Why the last update failed, or None when it worked.
    last_error: str | None = None
    #: Run by ``keeper edge agent`` on another host, which fetches the files
    #: from keeper and reports back; keeper never writes ``out_dir`` (the
    #: agent's folder, on its host).
    agent: bool = False
    #: Product id → the ``publish_seq`` whose state this edge last applied.
    applied: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def written_edges(session: Session, org_id: int) -> list[int]:
    """The ids of the org's edges keeper writes (an agent's edge fetches
    its files itself)."""
    found = session.exec(
        select(EdgeConfig.id).where(
            EdgeConfig.org_id == org_id, col(EdgeConfig.agent).is_(False)
        )
    )
    return [edge_id for edge_id in found if edge_id is not None]
