"""Checking a build's objects against its manifest.

An object is marked verified only when its bytes were hashed by keeper
(here, or as they arrived through keeper), or when the store computed a
checksum from them that matches the manifest: the MD5 in a single-part
object's ETag. Nothing a client claims counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session

from keeper.db import Build, BuildFile, Product
from keeper.services.stores import build_prefix
from keeper.storage import ObjectNotFound, ObjectStore

_HASH_WORKERS = 8
#: How many faulty files an error message names before summarising.
_NAMED_FAULTS = 20


def verify_objects(
    session: Session,
    store: ObjectStore,
    product: Product,
    build: Build,
    files: Sequence[BuildFile],
) -> list[str]:
    """Check every object of ``files`` in the build's prefix; returns the
    faults, and marks the hashed files verified when there are none.

    One listing gives every size and ETag, far cheaper than a request per
    object. A single-part object's ETag is the MD5 the store computed from
    the bytes it received (or copied), so a file whose client sent its
    MD5 is verified from the listing; the rest are read back and hashed.
    Files keeper copied from a verified build, or hashed as it recorded
    them, need only be present at their size: only keeper writes a
    build's prefix.
    """
    prefix = build_prefix(product, build)
    listed = {info.key[len(prefix) :]: info for info in store.list(prefix)}
    faults: list[str] = []
    to_hash: list[BuildFile] = []
    for f in files:
        info = listed.get(f.path)
        if info is None:
            faults.append(f"{f.path} (missing)")
        elif info.size != f.size:
            faults.append(f"{f.path} (size {info.size}, manifest says {f.size})")
        elif f.reused or f.sha256_verified:
            continue
        elif f.md5 and etag_md5(info.etag):
            if etag_md5(info.etag) != f.md5:
                faults.append(f"{f.path} (md5 differs)")
        else:
            to_hash.append(f)

    def check(f: BuildFile) -> str | None:
        try:
            digest = store.sha256(prefix + f.path)
        except ObjectNotFound:
            return f"{f.path} (missing)"
        return None if digest == f.sha256 else f"{f.path} (sha256 differs)"

    with ThreadPoolExecutor(_HASH_WORKERS) as pool:
        results = list(pool.map(check, to_hash))
    faults += [fault for fault in results if fault]
    if not faults:
        # Only for a build that verifies: a failed one is confirmed again
        # after re-uploads, and every object must be checked again then.
        for f in to_hash:
            f.sha256_verified = True  # may now be reused by any client
            session.add(f)
    return sorted(faults)


def etag_md5(etag: str | None) -> str | None:
    """The MD5 in an ETag, or None for multipart ETags (``…-3``) and stores
    whose ETags are not MD5s."""
    if not etag:
        return None
    value = etag.strip('"').lower()
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value


def describe_faults(faults: list[str]) -> str:
    named = ", ".join(faults[:_NAMED_FAULTS])
    more = len(faults) - _NAMED_FAULTS
    tail = f" and {more} more" if more > 0 else ""
    return f"{len(faults)} file(s) missing or not as in the manifest: {named}{tail}"
