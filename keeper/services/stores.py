"""Which object store holds an organization's builds, and where in it."""

from __future__ import annotations

import threading

from keeper.db import Build, Organization, Product
from keeper.domain import layout
from keeper.storage import ObjectStore
from keeper.storage.factory import child, store_from_url


class StoreProvider:
    """Hands out one store per organization, built once and reused.

    An org without its own ``storage_url`` shares keeper's store under a
    prefix named for its slug.
    """

    def __init__(self, default_url: str) -> None:
        self._default_url = default_url
        self._default: ObjectStore | None = None
        self._by_url: dict[str, ObjectStore] = {}
        self._lock = threading.Lock()

    def default(self) -> ObjectStore:
        with self._lock:
            if self._default is None:
                self._default = store_from_url(self._default_url)
            return self._default

    def for_org(self, org: Organization) -> ObjectStore:
        if not org.storage_url:
            return child(self.default(), org.slug)
        with self._lock:
            store = self._by_url.get(org.storage_url)
            if store is None:
                store = store_from_url(org.storage_url)
                self._by_url[org.storage_url] = store
            return store


#: The product's folder holding its builds' staging folders.
STAGING_FOLDER = layout.STAGING_FOLDER


def product_prefix(product: Product) -> str:
    return f"{product.slug}/"


def object_key(product: Product, sha256: str) -> str:
    """Where the product keeps the bytes hashing to ``sha256``."""
    return layout.object_key(product.slug, sha256)


def objects_prefix(product: Product) -> str:
    return f"{product.slug}/{layout.OBJECTS_FOLDER}/"


def manifest_key(product: Product, build: Build | str) -> str:
    """The build's manifest as JSON: enough to serve or recover the build
    without the database."""
    public_id = build if isinstance(build, str) else build.public_id
    return layout.manifest_key(product.slug, public_id)


def build_prefix(product: Product, build: Build | str) -> str:
    """Where a build is materialized as plain files, for the edges that
    read prefixes (and where builds stored before content addressing
    live); ``build`` may be its public id."""
    public_id = build if isinstance(build, str) else build.public_id
    return f"{layout.builds_prefix(product.slug)}{public_id}/"


def staging_prefix(product: Product, build: Build | str) -> str:
    """Where clients upload a build's files, before keeper publishes them.

    Upload URLs write only here, and no edge serves it: confirmation
    hashes each upload and copies it to its :func:`object_key`, so a
    leaked URL used after the build completed changes nothing anyone
    reads: objects are written by keeper alone.
    """
    public_id = build if isinstance(build, str) else build.public_id
    return f"{product.slug}/{STAGING_FOLDER}/{public_id}/"
