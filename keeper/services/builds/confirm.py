"""Confirming a build: verify every object, then publish by rule."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, select

from keeper.db import Build, BuildFile, BuildStatus, Edition, Organization, Product
from keeper.db.types import utcnow
from keeper.edge.redirects import REDIRECTS_FILE, RedirectError, parse_redirects_file
from keeper.services.errors import Conflict, VerificationFailed
from keeper.services.publish import apply_tracking, lock_product
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix
from keeper.storage import ObjectNotFound, ObjectStore

_HASH_WORKERS = 8
#: How many faulty files an error message names before summarising.
_NAMED_FAULTS = 20


def confirm_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
    *,
    actor: str | None,
) -> tuple[Build, list[Edition]]:
    """Mark ``build`` uploaded, verify it and re-point editions.

    Confirming a complete build again is a no-op, so a client retrying after
    a lost response is safe. A failed verification leaves every edition as it
    was; re-uploading the missing files and confirming again completes it.
    """
    if build.status == BuildStatus.complete:
        return build, []
    build.status = BuildStatus.uploaded
    build.uploaded = utcnow()
    build.error = None
    session.add(build)
    session.commit()

    store = runtime.stores.for_org(org)
    faults = _verify(session, store, product, build)
    error = (
        _describe(faults) if faults else _read_redirects(session, store, product, build)
    )
    if error:
        build.status = BuildStatus.failed
        build.error = error
        session.add(build)
        session.commit()
        raise VerificationFailed(build.error)

    lock_product(session, product)
    session.refresh(build)
    if build.status != BuildStatus.uploaded:
        # Someone else confirmed (or deleted) it while we verified.
        session.rollback()
        if build.status == BuildStatus.complete:
            return build, []
        raise Conflict(f"build {build.public_id!r} changed to {build.status} meanwhile")
    build.status = BuildStatus.complete
    build.completed = utcnow()
    session.add(build)
    moved = apply_tracking(session, product, build, actor=actor)
    session.commit()
    session.refresh(build)
    for edition in moved:
        session.refresh(edition)
    return build, moved


def _verify(
    session: Session, store: ObjectStore, product: Product, build: Build
) -> list[str]:
    """Check every object against the manifest; returns the faults.

    One listing gives every size and ETag, far cheaper than a request per
    object. A single-part object's ETag is the MD5 the store computed from
    the bytes it received, so a file whose client sent its MD5 is verified
    from the listing; the rest are read back and hashed.
    """
    files = list(session.exec(select(BuildFile).where(BuildFile.build_id == build.id)))
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
            # Copied from a verified build, or hashed by keeper itself while
            # it recorded the manifest (ltd-conveyor 0.8 uploads).
            continue
        elif f.md5 and _etag_md5(info.etag):
            if _etag_md5(info.etag) != f.md5:
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
        # after re-uploads, and every object must be hashed again then.
        for f in to_hash:
            f.sha256_verified = True  # may now be reused by any client
            session.add(f)
    return sorted(faults)


def _read_redirects(
    session: Session, store: ObjectStore, product: Product, build: Build
) -> str | None:
    """Parse the build's ``_redirects`` into ``build.redirects``; returns
    why the file cannot be used, if it cannot.

    A bad rule fails the build rather than being skipped: a site whose
    redirects silently vanish is worse than one that is not published.
    """
    build.redirects = []
    listed = session.exec(
        select(BuildFile.id).where(
            BuildFile.build_id == build.id, BuildFile.path == REDIRECTS_FILE
        )
    ).first()
    if listed is None:
        return None
    try:
        text = store.get(build_prefix(product, build) + REDIRECTS_FILE)
    except ObjectNotFound:
        return f"{REDIRECTS_FILE} (missing)"
    try:
        rules = parse_redirects_file(text.decode("utf-8"))
    except UnicodeDecodeError:
        return f"{REDIRECTS_FILE} is not UTF-8 text"
    except RedirectError as exc:
        return str(exc)
    build.redirects = [rule.as_dict() for rule in rules]
    return None


def _etag_md5(etag: str | None) -> str | None:
    """The MD5 in an ETag, or None for multipart ETags (``…-3``) and stores
    whose ETags are not MD5s."""
    if not etag:
        return None
    value = etag.strip('"').lower()
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value


def _describe(faults: list[str]) -> str:
    named = ", ".join(faults[:_NAMED_FAULTS])
    more = len(faults) - _NAMED_FAULTS
    tail = f" and {more} more" if more > 0 else ""
    return f"{len(faults)} file(s) missing or not as in the manifest: {named}{tail}"
