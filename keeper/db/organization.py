from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class Organization(SQLModel, table=True):
    """A tenant: its own domain, URL layout, storage and CDN settings."""

    # A base domain is one org's (keeper.domain.site_domains); "" (no sites)
    # may repeat. The service also refuses the overlaps an index cannot see.
    __table_args__ = (
        Index(
            "uq_organization_base_domain",
            "base_domain",
            unique=True,
            sqlite_where=text("base_domain <> ''"),
            postgresql_where=text("base_domain <> ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=63)
    title: str = Field(max_length=200)
    #: Lower case, no trailing dot, no port; "" for an org without sites.
    base_domain: str = Field(default="", max_length=253)
    #: How readers reach the sites: ``https`` behind a real edge, ``http``
    #: (and a port) for a local keeper serving them itself. Only the URLs
    #: keeper reports use these; edges match the Host without a port.
    site_scheme: str = Field(default="https", max_length=8)
    site_port: int | None = None
    #: ``subdomain`` (``<product>.<base_domain>``) or ``path`` (``<base>/<product>``)
    url_layout: str = Field(default="subdomain", max_length=16)
    #: Overrides keeper's storage URL for this org; None shares keeper's
    #: store under the org's slug as prefix.
    storage_url: str | None = Field(default=None, max_length=1000)
    #: ``none``, ``fastly``, ``varnish`` or ``nginx``.
    cdn_kind: str = Field(default="none", max_length=16)
    cdn_settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
