"""A build's manifest, read back from what landed in storage.

ltd-conveyor 0.8 uploads without telling keeper what it sends, so keeper
lists the build's folder, hashes each object and records that, exactly as
if a client had declared it. Keeper's normal confirmation then verifies
the objects against it like any other build.
"""

from __future__ import annotations

import dataclasses
import mimetypes
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete
from sqlmodel import Session, col

from keeper.db import Build, BuildFile, Product
from keeper.db.types import pk
from keeper.services.stores import build_prefix
from keeper.storage import ObjectInfo, ObjectNotFound, ObjectStore

_HASH_WORKERS = 8


@dataclasses.dataclass(frozen=True)
class LandedFile:
    path: str
    size: int
    sha256: str
    content_type: str


def split_markers(
    infos: Iterable[ObjectInfo],
) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
    """(files, directory markers) among objects keyed relative to a build.

    A marker is LTD's empty object named after a folder (``a`` beside
    ``a/index.html``). Keeper never keeps one: the edge answers directory
    redirects from the manifest, and folder stores cannot hold it anyway.
    """
    infos = list(infos)
    folders = {
        info.key[:cut]
        for info in infos
        for cut in range(len(info.key))
        if info.key[cut] == "/"
    }
    files = [i for i in infos if not (i.size == 0 and i.key in folders)]
    markers = [i for i in infos if i.size == 0 and i.key in folders]
    return files, markers


def read_landed(store: ObjectStore, prefix: str) -> list[LandedFile]:
    """Every object under ``prefix`` (markers aside, and removed), described
    by path, size, sha256 and content type."""
    relative = [
        dataclasses.replace(info, key=info.key[len(prefix) :])
        for info in store.list(prefix)
    ]
    files, markers = split_markers(relative)
    for marker in markers:
        store.delete(prefix + marker.key)

    def describe(info: ObjectInfo) -> LandedFile | None:
        key = prefix + info.key
        try:
            stat = store.stat(key)
            digest = store.sha256(key)
        except ObjectNotFound:
            return None  # gone since the listing: it did not land after all
        content_type = (
            (stat.content_type if stat else None)
            or mimetypes.guess_type(info.key, strict=False)[0]
            or "application/octet-stream"
        )
        return LandedFile(info.key, info.size, digest, content_type)

    with ThreadPoolExecutor(_HASH_WORKERS) as pool:
        return [f for f in pool.map(describe, files) if f is not None]


def record_landed_manifest(
    session: Session, store: ObjectStore, product: Product, build: Build
) -> list[LandedFile]:
    """Replace ``build``'s manifest with what its folder holds now.

    Replacing, not adding: a build whose verification failed is confirmed
    again after the missing files were uploaded.
    """
    landed = read_landed(store, build_prefix(product, build))
    session.execute(delete(BuildFile).where(col(BuildFile.build_id) == build.id))
    session.add_all(
        BuildFile(
            build_id=pk(build),
            product_id=pk(product),
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            content_type=f.content_type,
            # Keeper hashed these bytes itself just now: confirmation need
            # not read every object a second time.
            sha256_verified=True,
        )
        for f in landed
    )
    build.file_count = len(landed)
    build.total_size = sum(f.size for f in landed)
    session.add(build)
    session.commit()
    return landed
