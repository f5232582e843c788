"""What the built-in edge keeps in memory: which Host is which product,
each product's :class:`SiteView`, and the manifests of the builds it serves.

Requests never wait on the database while what they need is fresh. A
host map or site view older than :data:`FRESH_FOR` is checked again before
it is used (one request does the check, the others wait for it), so several
keeper processes on one database never serve an edition pointer that is
stale for much more than a second. Commits in this process drop what they
touched at once (:func:`keeper.edge.changes.on_commit`).

Manifests of complete builds never change, so they are kept until the
least recently used ones make room, counted in files.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Edition, Organization, Product
from keeper.domain.layout import builds_prefix, object_key
from keeper.edge import changes
from keeper.edge.pages import platform_not_found
from keeper.edge.site import SiteView, load_site, site_host
from keeper.pages.budget import RendererUnavailable
from keeper.services.stores import StoreProvider
from keeper.services.templates import org_overrides
from keeper.storage import ObjectStore

log = logging.getLogger(__name__)

#: Seconds a host map or site view is used without asking the database.
FRESH_FOR = 1.0
#: Files of all cached manifests together (about 250 bytes each).
MANIFEST_FILES = 200_000

T = TypeVar("T")


class FileMeta(NamedTuple):
    """What the edge needs to answer for one file without the store."""

    size: int
    #: Quoted, ready for the ``ETag`` header: the file's sha256, the same
    #: in every build that holds these bytes.
    etag: str
    content_type: str
    #: Where the bytes are in the org's store: the content-addressed
    #: object, or (a build stored before content addressing) its file.
    key: str


Manifest = Mapping[str, FileMeta]


@dataclass
class Site:
    """A product as cached: its view, its store and when it was checked."""

    view: SiteView
    store: ObjectStore
    org_id: int
    #: What the database said when the view was loaded; None forces a reload.
    fingerprint: tuple[Any, ...] | None
    checked: float
    #: The org's title and its own page templates, for the platform's page.
    org_title: str = ""
    templates: Mapping[str, str] = field(default_factory=dict)
    _not_found: bytes | None = field(default=None, repr=False)
    _not_found_lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    @property
    def cached_not_found_page(self) -> bytes | None:
        """The platform's 404 page if it was rendered already."""
        return self._not_found

    def not_found_page(self) -> bytes:
        """The platform's 404 page for this product, rendered once per view.

        With the org's own template it renders in a worker (up to the render
        budget), so call it off the event loop unless
        :attr:`cached_not_found_page` has it."""
        with self._not_found_lock:  # one render, however many 404s wait
            if self._not_found is None:
                try:
                    page = platform_not_found(
                        self.view, org_title=self.org_title, templates=self.templates
                    )
                except RendererUnavailable:
                    # Keeper is stopping: answer, but keep nothing.
                    return platform_not_found(
                        self.view, org_title=self.org_title
                    ).encode()
                self._not_found = page.encode()
            return self._not_found


@dataclass(frozen=True)
class HostMap:
    """Which product answers for a Host (lower case, no port)."""

    #: ``<product>.<base_domain>`` → product id.
    subdomains: Mapping[str, int]
    #: ``<base_domain>`` of path-layout orgs → product slug → product id.
    paths: Mapping[str, Mapping[str, int]]
    checked: float

    def find(self, host: str, raw_path: str) -> tuple[int, str] | None:
        """The product id and its path root (``""`` or ``/<slug>``); a
        subdomain product wins over a path-layout org on the same host."""
        product = self.subdomains.get(host)
        if product is not None:
            return product, ""
        products = self.paths.get(host)
        if products is None:
            return None
        slug = raw_path[1:].partition("/")[0]
        product = products.get(slug)
        return None if product is None else (product, f"/{slug}")


@dataclass(frozen=True)
class Routed:
    """A request that is the edge's: the site and the raw path after its
    root (``""`` when a path-layout product is asked for without ``/``)."""

    site: Site
    path: str


class ManifestCache:
    """Least recently used manifests, bounded by their total files.

    Only the event loop thread touches it, so it needs no lock.
    """

    def __init__(self, max_files: int = MANIFEST_FILES) -> None:
        self.max_files = max_files
        self.files = 0
        self._items: OrderedDict[str, Manifest] = OrderedDict()

    def get(self, build: str) -> Manifest | None:
        manifest = self._items.get(build)
        if manifest is not None:
            self._items.move_to_end(build)
        return manifest

    def put(self, build: str, manifest: Manifest) -> None:
        old = self._items.pop(build, None)
        if old is not None:
            self.files -= len(old)
        self._items[build] = manifest
        self.files += len(manifest)
        # The newest stays even when it alone is over the limit.
        while self.files > self.max_files and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self.files -= len(evicted)

    def __contains__(self, build: str) -> bool:
        return build in self._items


class _SingleFlight:
    """At most one run of a blocking loader per key; the others wait for it
    and then read what it stored."""

    def __init__(self) -> None:
        self._running: dict[Hashable, anyio.Event] = {}

    async def run(self, key: Hashable, load: Callable[[], T]) -> T | None:
        running = self._running.get(key)
        if running is not None:
            await running.wait()
            return None
        done = self._running[key] = anyio.Event()
        try:
            return await anyio.to_thread.run_sync(load)
        finally:
            del self._running[key]
            done.set()


class EdgeCache:
    """Host map, site views and manifests for one database."""

    def __init__(
        self,
        engine: Engine,
        stores: StoreProvider,
        *,
        fresh_for: float = FRESH_FOR,
        manifest_files: int = MANIFEST_FILES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.stores = stores
        self.fresh_for = fresh_for
        self.clock = clock
        self.manifests = ManifestCache(manifest_files)
        self._hosts = HostMap({}, {}, checked=-float("inf"))
        self._sites: dict[int, Site] = {}
        self._flight = _SingleFlight()
        # Commits arrive on worker threads; loads finish on the event loop.
        self._lock = threading.Lock()
        #: Bumped by invalidations, so a load that raced one is redone: any
        #: commit for site views, commits touching orgs for the host map.
        self._generation = 0
        self._hosts_generation = 0
        # A weak reference: the engine's listener list must not keep this
        # cache (and its manifests) alive after the app is gone.
        ref = weakref.ref(self)

        def listener(_engine: Engine, touched: changes.Touched) -> None:
            cache = ref()
            if cache is not None:
                cache.invalidate(touched)

        changes.on_commit(engine, listener)

    # -- the hot path --------------------------------------------------------

    async def route(self, host: str, raw_path: str) -> Routed | None:
        """The site that answers ``host`` and ``raw_path``, or None when the
        request is not the edge's."""
        for attempt in range(2):
            hosts = await self._host_map(force=attempt > 0)
            found = hosts.find(host, raw_path)
            if found is None:
                return None
            product, root = found
            site = await self._site(product)
            if site is not None and (site.view.host, site.view.root) == (host, root):
                return Routed(site, raw_path[len(root) :])
            # The product moved or went since the map was read: read it again.
        return None

    async def manifest(self, build: str, *, cached_as: str | None = None) -> Manifest:
        """The files of the complete build ``build`` (empty if it is gone),
        cached under ``cached_as`` (by default the build's id)."""
        name = cached_as or build
        manifest = self.manifests.get(name)
        if manifest is not None:
            return manifest
        loaded = await self._flight.run(
            ("manifest", name), lambda: self._read_manifest(build)
        )
        if loaded is None:  # another request loaded it meanwhile
            return self.manifests.get(name) or {}
        manifest, complete = loaded
        if complete:
            self.manifests.put(name, manifest)
        return manifest

    # -- invalidation ----------------------------------------------------------

    def invalidate(self, touched: changes.Touched) -> None:
        """Forget what a commit changed; safe from any thread."""
        with self._lock:
            self._generation += 1
            for product in touched.products:
                self._sites.pop(product, None)
            if touched.orgs:
                self._hosts_generation += 1
                self._hosts = HostMap(
                    self._hosts.subdomains, self._hosts.paths, -float("inf")
                )
                for product, site in list(self._sites.items()):
                    if site.org_id in touched.orgs:
                        self._sites.pop(product, None)

    # -- loading ------------------------------------------------------------------

    def _stale(self, checked: float) -> bool:
        return self.clock() - checked > self.fresh_for

    async def _host_map(self, *, force: bool) -> HostMap:
        hosts = self._hosts
        if force or self._stale(hosts.checked):
            await self._flight.run("hosts", self._read_hosts)
        return self._hosts

    async def _site(self, product: int) -> Site | None:
        site = self._sites.get(product)
        if site is None or self._stale(site.checked):
            await self._flight.run(
                ("site", product), lambda: self._refresh_site(product)
            )
            site = self._sites.get(product)
        return site

    def _read_hosts(self) -> None:
        generation = self._hosts_generation
        checked = self.clock()
        subdomains: dict[str, int] = {}
        paths: dict[str, dict[str, int]] = {}
        with Session(self.engine) as session:
            rows = session.exec(
                select(Product, Organization).join(
                    Organization, col(Organization.id) == Product.org_id
                )
            ).all()
            for product, org in rows:
                if not org.base_domain or product.id is None:
                    continue
                host, root = site_host(org, product)
                if root:
                    paths.setdefault(host, {})[product.slug] = product.id
                else:
                    subdomains[host] = product.id
        with self._lock:
            if generation != self._hosts_generation:
                checked = -float("inf")  # a commit raced this read
            self._hosts = HostMap(subdomains, paths, checked)

    def _refresh_site(self, product_id: int) -> None:
        generation = self._generation
        checked = self.clock()
        with Session(self.engine) as session:
            fingerprint = _fingerprint(session, product_id)
            current = self._sites.get(product_id)
            if fingerprint is None:
                site = None
            elif current is not None and current.fingerprint == fingerprint:
                site = current
            else:
                product = session.get(Product, product_id)
                org = session.get(Organization, product.org_id) if product else None
                if product is None or org is None or org.id is None:
                    site = None
                else:
                    site = Site(
                        view=load_site(session, org, product),
                        store=self.stores.for_org(org),
                        org_id=org.id,
                        fingerprint=fingerprint,
                        checked=checked,
                        org_title=org.title,
                        templates=org_overrides(session, org.id),
                    )
        with self._lock:
            if site is None:
                self._sites.pop(product_id, None)
                return
            site.checked = checked
            if generation != self._generation:
                # A commit landed while we read: use this view for now, but
                # reload it in full on the next request.
                site.fingerprint = None
                site.checked = -float("inf")
            self._sites[product_id] = site

    def _read_manifest(self, build: str) -> tuple[dict[str, FileMeta], bool]:
        with Session(self.engine) as session:
            found = session.execute(
                sa_select(
                    col(Build.id), col(Build.content_addressed), col(Product.slug)
                )
                .join(Product, col(Product.id) == Build.product_id)
                .where(
                    col(Build.public_id) == build,
                    col(Build.status) == BuildStatus.complete,
                )
            ).first()
            if found is None:
                return {}, False
            build_id, content_addressed, product = found
            rows = session.execute(
                sa_select(
                    col(BuildFile.path),
                    col(BuildFile.size),
                    col(BuildFile.content_type),
                    col(BuildFile.sha256),
                ).where(col(BuildFile.build_id) == build_id)
            )
            prefix = f"{builds_prefix(product)}{build}/"
            return {
                path: FileMeta(
                    size,
                    f'"{sha256}"',
                    # A build has thousands of files and a handful of types.
                    sys.intern(content_type),
                    object_key(product, sha256) if content_addressed else prefix + path,
                )
                for path, size, content_type, sha256 in rows
            }, True


def _fingerprint(session: Session, product_id: int) -> tuple[Any, ...] | None:
    """What changes whenever the product's view would: its row, its org's,
    its editions' pointers and the set of its complete builds.

    Edition rows are compared one by one rather than through
    ``publish_seq``: a manual re-point or a deletion need not bump it.
    """
    complete = and_(
        col(Build.product_id) == product_id, col(Build.status) == BuildStatus.complete
    )
    row = session.execute(
        sa_select(
            col(Product.slug),
            col(Product.publish_seq),
            col(Product.updated),
            col(Organization.slug),
            col(Organization.base_domain),
            col(Organization.url_layout),
            col(Organization.storage_url),
            col(Organization.updated),
            sa_select(func.count()).where(complete).scalar_subquery(),
            sa_select(func.max(Build.id)).where(complete).scalar_subquery(),
            # A build converted by ``keeper storage migrate`` reads elsewhere.
            sa_select(func.count())
            .where(complete, col(Build.content_addressed))
            .scalar_subquery(),
        )
        .join(Organization, col(Organization.id) == Product.org_id)
        .where(col(Product.id) == product_id)
    ).first()
    if row is None:
        return None
    editions = session.exec(
        select(Edition.id, Edition.slug, Edition.build_id, Edition.updated)
        .where(Edition.product_id == product_id)
        .order_by(col(Edition.id))
    ).all()
    return tuple(row), tuple(tuple(e) for e in editions)
