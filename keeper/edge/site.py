"""What an edge needs to know about a product, read from the database.

The built-in edge keeps one :class:`SiteView` per product in memory; the
renderers turn an org's views into nginx maps or VCL. Views hold only
complete builds: a pending or failed build is never served, not even by id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from keeper.db import (
    MAIN_EDITION,
    Build,
    BuildFile,
    BuildStatus,
    Edition,
    EditionKind,
    Organization,
    Product,
)
from keeper.edge.redirects import Rule

#: The page a build may carry to answer for its missing pages.
NOT_FOUND_PAGE = "404.html"
INDEX_PAGE = "index.html"


@dataclass(frozen=True)
class BuildView:
    public_id: str
    redirects: tuple[Rule, ...] = ()
    #: False for a build still stored as a full prefix (before ``keeper
    #: storage migrate``): its files are read there, not as objects.
    content_addressed: bool = True


@dataclass(frozen=True)
class EditionView:
    slug: str
    build: str | None
    #: Drafts and pull-request previews ask search engines not to index them.
    noindex: bool = False


@dataclass(frozen=True)
class SiteView:
    """One product as readers reach it."""

    org: str
    product: str
    #: ``<product>.<base_domain>`` (subdomain layout) or the base domain.
    host: str
    #: ``""`` (subdomain layout) or ``/<product>`` (path layout).
    root: str
    editions: Mapping[str, EditionView]
    builds: Mapping[str, BuildView]
    redirects: tuple[Rule, ...] = ()
    #: The product's title, for the pages the platform answers with.
    title: str = ""
    #: Where the product's builds live in the org's store.
    builds_prefix: str = ""
    #: Where keeper writes the product's generated pages (``v/index.html``…).
    meta_prefix: str = ""
    #: Bumped whenever something readers see changed.
    version: int = 0
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def main(self) -> EditionView | None:
        return self.editions.get(MAIN_EDITION)

    def key(self, *parts: str) -> str:
        """A surrogate key: the product's, or one below it."""
        return "/".join((self.org, self.product, *parts))


def meta_prefix(product_slug: str) -> str:
    """The store prefix of a product's generated pages (see keeper.pages)."""
    return f"{product_slug}/_meta/"


def site_host(org: Organization, product: Product) -> tuple[str, str]:
    """The ``Host`` and path root a product is served at."""
    domain = org.base_domain.lower()
    if org.url_layout == "path":
        return domain, f"/{product.slug}"
    return f"{product.slug}.{domain}", ""


def load_site(session: Session, org: Organization, product: Product) -> SiteView:
    editions = session.exec(select(Edition).where(Edition.product_id == product.id))
    builds = {
        b.id: b
        for b in session.exec(
            select(Build).where(
                Build.product_id == product.id, Build.status == BuildStatus.complete
            )
        )
    }
    host, root = site_host(org, product)
    return SiteView(
        org=org.slug,
        product=product.slug,
        host=host,
        root=root,
        editions={
            e.slug: EditionView(
                slug=e.slug,
                build=builds[e.build_id].public_id if e.build_id in builds else None,
                noindex=_noindex(e, builds.get(e.build_id)),
            )
            for e in editions
        },
        builds={
            b.public_id: BuildView(
                public_id=b.public_id,
                redirects=tuple(Rule.from_dict(r) for r in b.redirects or ()),
                content_addressed=b.content_addressed,
            )
            for b in builds.values()
        },
        redirects=tuple(Rule.from_dict(r) for r in product.redirects or ()),
        title=product.title,
        builds_prefix=f"{product.slug}/builds/",
        meta_prefix=meta_prefix(product.slug),
        version=product.publish_seq,
    )


def load_org_sites(session: Session, org: Organization) -> list[SiteView]:
    products = session.exec(
        select(Product).where(Product.org_id == org.id).order_by(col(Product.slug))
    )
    return [load_site(session, org, p) for p in products]


def _noindex(edition: Edition, build: Build | None) -> bool:
    if edition.kind == EditionKind.draft:
        return True
    return bool(build is not None and (build.ci or {}).get("pr_number"))


class SpecialPages:
    """For each complete build: its directories that hold an index page
    (``a/`` for ``a/index.html``) and ``404.html`` if it has one.

    Edges that cannot ask the store whether a key exists (nginx proxying to
    S3) learn the ``/a`` → ``/a/`` redirects and 404 pages from this. A
    complete build never changes, so each is read once and remembered: a
    publish then costs the same whatever the size of the builds.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._known: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def of(self, session: Session, site: SiteView) -> dict[str, frozenset[str]]:
        with self._lock:
            found = {b: self._known[b] for b in site.builds if b in self._known}
            for build in found:
                self._known.move_to_end(build)
        missing = [b for b in site.builds if b not in found]
        if missing:
            read = _read_special_pages(session, missing)
            with self._lock:
                self._known.update(read)
                while len(self._known) > self._limit:
                    self._known.popitem(last=False)
            found.update(read)
        return found


def _read_special_pages(session: Session, ids: list[str]) -> dict[str, frozenset[str]]:
    pages: dict[str, set[str]] = {i: set() for i in ids}
    rows = session.exec(
        select(Build.public_id, BuildFile.path)
        .join(Build, col(Build.id) == BuildFile.build_id)
        .where(
            col(Build.public_id).in_(ids),
            (col(BuildFile.path) == NOT_FOUND_PAGE)
            | col(BuildFile.path).endswith("/" + INDEX_PAGE),
        )
    )
    for public_id, path in rows:
        pages[public_id].add(path.removesuffix(INDEX_PAGE))
    return {b: frozenset(p) for b, p in pages.items()}
