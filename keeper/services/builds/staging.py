"""A build's staging folder: where its uploads land until it is confirmed.

Upload URLs (keeper's own, S3 presigned PUTs and POSTs) write only into
``<product>/_staging/<build>/``. Confirmation, after the build stopped
taking uploads, hashes each upload and copies exactly the bytes it hashed
to the object key of their sha256; then the staging folder goes. So the
objects builds serve are written by keeper alone, and an upload URL used
after confirmation, whether keeper refuses it or S3 cannot, changes
nothing anyone reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Product
from keeper.db.batches import in_batches
from keeper.services.stores import (
    STAGING_FOLDER,
    object_key,
    staging_prefix,
)
from keeper.storage import ContentMismatch, ObjectNotFound, ObjectStore, StorageError

#: Server-side copies run in parallel; object stores are latency-bound.
_COPY_WORKERS = 32


@dataclass
class Placed:
    """What :func:`place_uploads` did: the objects it placed (sha256 →
    size) and the files it found at fault."""

    objects: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)


def place_uploads(
    store: ObjectStore,
    product: Product,
    build: Build,
    uploaded: Sequence[BuildFile],
    held: set[str],
) -> Placed:
    """Copy each uploaded file whose bytes hash to its manifest's sha256
    from staging to its object key; report the others.

    ``held`` are the hashes the product already holds: those uploads need
    no copy (an earlier confirmation of the build may have placed them,
    and its staging is gone). The copy is of exactly the bytes hashed,
    so an upload URL still writing to staging cannot slip other bytes in.
    """
    staged = staging_prefix(product, build)
    placed = Placed()

    def place(f: BuildFile) -> str | None:
        if f.sha256 in held:
            return None
        if sends_in_place(store, f.md5):
            return _check_in_place(store, product, f)
        return place_object(store, product, staged + f.path, f)

    with ThreadPoolExecutor(_COPY_WORKERS) as pool:
        results = list(pool.map(place, uploaded))
    for f, fault in zip(uploaded, results, strict=True):
        if fault is not None:
            placed.faults.append(fault)
        elif f.sha256 not in held:
            placed.objects[f.sha256] = f.size
    return placed


def sends_in_place(store: ObjectStore, md5: str | None) -> bool:
    """True when a file is uploaded straight to its object key: the store
    holds a presigned PUT to the signed Content-MD5 (``direct_uploads``),
    and the client gave one. Otherwise it goes to staging, and keeper
    copies what it hashed from there."""
    return store.direct_uploads and md5 is not None


def place_object(
    store: ObjectStore, product: Product, source: str, f: BuildFile
) -> str | None:
    """Copy the bytes at ``source`` to ``f``'s object key if they hash to
    its sha256; returns what is wrong with ``f`` if they do not."""
    try:
        store.copy_verified(
            source,
            object_key(product, f.sha256),
            sha256=f.sha256,
            content_type=f.content_type,
        )
    except ObjectNotFound:
        return f"{f.path} (missing)"
    except ContentMismatch as exc:
        if exc.size is not None and exc.size != f.size:
            return f"{f.path} (size {exc.size}, manifest says {f.size})"
        return f"{f.path} (sha256 differs)"
    return None


def _check_in_place(store: ObjectStore, product: Product, f: BuildFile) -> str | None:
    """A file uploaded straight to its object key: read it back and hash it
    (the store checked only its MD5). Bytes that do not hash to the key
    stay unrecorded, never served, and are collected as stray."""
    try:
        digest = store.sha256(object_key(product, f.sha256))
    except ObjectNotFound:
        return f"{f.path} (missing)"
    return None if digest == f.sha256 else f"{f.path} (sha256 differs)"


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
    for batch in in_batches(ids):
        live.update(
            session.exec(
                select(Build.public_id).where(
                    Build.product_id == product.id,
                    col(Build.public_id).in_(batch),
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
