"""A build's staging folder: where its uploads land until it is confirmed.

Upload URLs (keeper's own, S3 presigned PUTs and POSTs) write only into
``<product>/_staging/<build>/``. Confirmation copies the files into the
build's own prefix, after the build stopped taking uploads, and verifies
the copies; then the staging folder goes. So the objects a build serves
are written by keeper alone, and an upload URL used after confirmation,
whether keeper refuses it or S3 cannot, changes nothing anyone reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Product
from keeper.services.stores import STAGING_FOLDER, build_prefix, staging_prefix
from keeper.storage import ObjectNotFound, ObjectStore, StorageError

#: Server-side copies run in parallel; object stores are latency-bound.
_COPY_WORKERS = 32
#: Keeps IN (...) lists well under every database's parameter limit.
_LOOKUP_CHUNK = 500


def promote(
    store: ObjectStore, product: Product, build: Build, files: Sequence[BuildFile]
) -> set[str]:
    """Copy each of ``files`` that was uploaded into the build's prefix,
    with the manifest's content type; returns the paths copied.

    A file not in staging is left as it is: an earlier confirmation may
    have copied it already, and verification reports it if not.
    """
    staged = staging_prefix(product, build)
    target = build_prefix(product, build)

    def copy(f: BuildFile) -> str | None:
        try:
            store.copy(staged + f.path, target + f.path, content_type=f.content_type)
        except ObjectNotFound:
            return None
        return f.path

    with ThreadPoolExecutor(_COPY_WORKERS) as pool:
        return {path for path in pool.map(copy, files) if path is not None}


def copy_all(
    store: ObjectStore, product: Product, build: Build, paths: Iterable[str]
) -> None:
    """Copy the staged ``paths`` into the build's prefix as they are (type
    included): the 1.x uploads, whose manifest is what landed."""
    staged = staging_prefix(product, build)
    target = build_prefix(product, build)

    def copy(path: str) -> None:
        with contextlib.suppress(ObjectNotFound):  # gone meanwhile: not landed
            store.copy(staged + path, target + path)

    with ThreadPoolExecutor(_COPY_WORKERS) as pool:
        list(pool.map(copy, paths))


def discard(store: ObjectStore, product: Product, build: Build | str) -> None:
    """Remove the build's staging folder; what it held is copied or unwanted."""
    store.delete_prefix(staging_prefix(product, build))


def leftovers(session: Session, store: ObjectStore, product: Product) -> list[str]:
    """The builds whose staging folders can go (pass them to
    :func:`discard_all` once the transaction has ended): those of builds
    that take no more uploads, complete or gone.

    Keeper refuses its own URLs once a build is confirmed, but an S3
    presigned URL works until it expires, and what it writes after the
    build's own staging folder went lands in a new one. Each confirmation
    of the product clears those. Failed builds keep theirs (they are
    repaired by uploading again) and so do builds being confirmed.
    """
    root = f"{product.slug}/{STAGING_FOLDER}/"
    found = {info.key[len(root) :].partition("/")[0] for info in store.list(root)}
    found.discard("")
    if not found:
        return []
    ids = sorted(found)
    live: set[str] = set()
    for i in range(0, len(ids), _LOOKUP_CHUNK):
        live.update(
            session.exec(
                select(Build.public_id).where(
                    Build.product_id == product.id,
                    col(Build.public_id).in_(ids[i : i + _LOOKUP_CHUNK]),
                    Build.status != BuildStatus.complete,
                )
            ).all()
        )
    return sorted(found - live)


def discard_all(
    store: ObjectStore, product: Product, public_ids: Iterable[str]
) -> None:
    root = f"{product.slug}/{STAGING_FOLDER}/"
    for public_id in public_ids:
        # Best effort: the next confirmation tries again.
        with contextlib.suppress(StorageError):
            store.delete_prefix(f"{root}{public_id}/")
