"""What a product's generated pages show, as plain values.

:mod:`keeper.pages.listing` reads them from the database. They live apart
from it because org templates render in a worker process
(:mod:`keeper.pages.budget`) that receives them and should start fast,
without loading the database layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EditionEntry:
    slug: str
    title: str
    kind: str
    #: Site-relative URL (``/`` or ``/v/<slug>/``, below the product root).
    url: str
    build: str
    git_ref: str
    #: When the edition last switched build.
    updated: datetime
    source_url: str | None
    is_default: bool
    #: ``default``, ``release`` or ``draft``: the dashboard's sections.
    group: str
    pr_number: int | None = None


@dataclass(frozen=True)
class BuildEntry:
    public_id: str
    url: str
    git_ref: str
    created: datetime
    completed: datetime | None
    file_count: int
    total_size: int
    editions: tuple[str, ...]
    source_url: str | None
    run_url: str | None
    pr_number: int | None


@dataclass(frozen=True)
class Listing:
    org: str
    org_title: str
    product: str
    product_title: str
    #: ``""`` (subdomain layout) or ``/<product>`` (path layout).
    root: str
    #: In reading order: default, releases newest first, then drafts.
    editions: tuple[EditionEntry, ...]
    #: Newest first, at most :data:`keeper.pages.listing.BUILDS_SHOWN`.
    builds: tuple[BuildEntry, ...]
    builds_total: int

    @property
    def default(self) -> EditionEntry | None:
        return next((e for e in self.editions if e.is_default), None)
