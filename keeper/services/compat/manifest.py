"""A build's manifest, read back from what landed in storage.

ltd-conveyor 0.8 uploads without telling keeper what it sends. Its files
land in the build's staging folder; at confirmation keeper checks their
names and sizes against the rules any manifest follows, hashes them and
records that, exactly as if a client had declared it. Keeper's normal
confirmation then places and verifies them like any other build's.
"""

from __future__ import annotations

import dataclasses
import mimetypes
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, Product
from keeper.db.types import pk
from keeper.domain.limits import MAX_BUILD_BYTES, MAX_FILE_BYTES, MAX_MANIFEST_FILES
from keeper.domain.paths import PathError, check_path, check_paths_together
from keeper.services.stores import staging_prefix
from keeper.storage import ObjectInfo, ObjectNotFound, ObjectStore

_HASH_WORKERS = 8
#: How many refused names an error message lists.
_NAMED = 10


class LandedRefused(ValueError):
    """What landed cannot be published; the message says why."""


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
    """Make what landed in ``build``'s staging folder its manifest, with
    the files an earlier confirmation of it recorded that were not sent
    again (a failed build is confirmed again after the missing files were
    uploaded, and its earlier files were placed as objects then).

    The staged files are hashed here; confirmation then places exactly the
    bytes that hash so. Raises :class:`LandedRefused` when what landed
    breaks a rule a declared manifest would be refused for.
    """
    staged_prefix = staging_prefix(product, build)
    earlier = {
        f.path: f
        for f in session.exec(select(BuildFile).where(BuildFile.build_id == build.id))
    }
    staged = _publishable(
        store, staged_prefix, {path: f.size for path, f in earlier.items()}
    )
    landed = {f.path: f for f in read_landed(store, staged_prefix) if f.path in staged}
    kept = [
        LandedFile(f.path, f.size, f.sha256, f.content_type)
        for path, f in earlier.items()
        if path not in landed
    ]
    files = sorted([*landed.values(), *kept], key=lambda f: f.path)
    session.execute(delete(BuildFile).where(col(BuildFile.build_id) == build.id))
    session.add_all(
        BuildFile(
            build_id=pk(build),
            product_id=pk(product),
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            content_type=f.content_type,
            # Kept files were placed by the earlier confirmation.
            reused=f.path not in landed,
        )
        for f in files
    )
    build.file_count = len(files)
    build.total_size = sum(f.size for f in files)
    session.add(build)
    session.flush()
    return files


def _publishable(
    store: ObjectStore, staged: str, recorded: dict[str, int]
) -> list[str]:
    """The staged files (markers aside) to publish, once the build they
    make up together with the ``recorded`` files (path → size) of an
    earlier attempt passes every rule of a manifest."""
    uploads = [
        dataclasses.replace(info, key=info.key[len(staged) :])
        for info in store.list(staged)
    ]
    replaced = {u.key for u in uploads}
    earlier = {p: size for p, size in recorded.items() if p not in replaced}
    files, _ = split_markers(
        uploads + [ObjectInfo(key=k, size=size) for k, size in earlier.items()]
    )
    paths = {f.key: f.size for f in files}
    if len(paths) > MAX_MANIFEST_FILES:
        raise LandedRefused(
            f"{len(paths)} files were uploaded; a build has at most "
            f"{MAX_MANIFEST_FILES} (MAX_MANIFEST_FILES)"
        )
    new = [u.key for u in uploads if u.key in paths]
    bad = []
    for path in new:
        try:
            check_path(path)
        except PathError as exc:
            bad.append(str(exc))
    if bad:
        raise LandedRefused(
            f"{len(bad)} uploaded file(s) cannot be published: "
            + "; ".join(bad[:_NAMED])
        )
    try:
        check_paths_together(paths)
    except PathError as exc:
        raise LandedRefused(f"the uploaded files cannot be published: {exc}") from None
    large = sorted(p for p, size in paths.items() if size > MAX_FILE_BYTES)
    if large:
        raise LandedRefused(
            f"files larger than {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES): "
            + ", ".join(large[:_NAMED])
        )
    total = sum(paths.values())
    if total > MAX_BUILD_BYTES:
        raise LandedRefused(
            f"{total} bytes were uploaded; a build has at most {MAX_BUILD_BYTES} "
            "(MAX_BUILD_BYTES)"
        )
    return new
