"""Confirming a build: publish its uploads, verify every object, then
re-point editions by rule."""

from __future__ import annotations

import contextlib

from sqlmodel import Session, select

from keeper.db import Build, BuildFile, BuildStatus, Edition, Organization, Product
from keeper.db.types import utcnow
from keeper.edge.redirects import REDIRECTS_FILE, RedirectError, parse_redirects_file
from keeper.jobs.follow import product_changed
from keeper.services.builds import staging
from keeper.services.builds.verify import describe_faults, verify_objects
from keeper.services.errors import Conflict, VerificationFailed
from keeper.services.publish import apply_tracking, lock_product
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix
from keeper.storage import ObjectNotFound, ObjectStore, StorageError


def confirm_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
    *,
    actor: str | None,
) -> tuple[Build, list[Edition]]:
    """Mark ``build`` uploaded, publish and verify its files, re-point
    editions.

    Confirming a complete build again is a no-op, so a client retrying after
    a lost response is safe. A failed verification leaves every edition as it
    was; re-uploading the missing files and confirming again completes it.
    """
    if build.status == BuildStatus.complete:
        return build, []
    begin_confirmation(session, build)
    store = runtime.stores.for_org(org)
    try:
        error = _publish_and_verify(session, store, product, build)
    except StorageError as exc:
        # Failed rather than stuck in "uploaded", which takes no uploads.
        # Staging stays: confirming again picks up where this stopped.
        fail(session, build, f"object storage failed while confirming: {exc}")
        raise
    _tidy(session, store, product, build)
    if error:
        fail(session, build, error)
        raise VerificationFailed(error)

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
    product_changed(session, product)
    session.commit()
    session.refresh(build)
    for edition in moved:
        session.refresh(edition)
    return build, moved


def begin_confirmation(session: Session, build: Build) -> None:
    """From now on the build takes no uploads: every URL it handed out is
    refused (keeper's) or writes only to staging (presigned)."""
    build.status = BuildStatus.uploaded
    build.uploaded = utcnow()
    build.error = None
    session.add(build)
    session.commit()


def fail(session: Session, build: Build, error: str) -> None:
    build.status = BuildStatus.failed
    build.error = error
    session.add(build)
    session.commit()


def _publish_and_verify(
    session: Session, store: ObjectStore, product: Product, build: Build
) -> str | None:
    """Copy the uploads into the build's prefix and check every object;
    returns what is wrong, if anything."""
    files = list(session.exec(select(BuildFile).where(BuildFile.build_id == build.id)))
    session.commit()  # nothing slow runs inside a transaction
    # Reused files were copied and checked by keeper at registration, and
    # files keeper hashed as it recorded them (1.x uploads) were copied by
    # that step: the rest are the client's uploads.
    uploaded = [f for f in files if not (f.reused or f.sha256_verified)]
    staging.promote(store, product, build, uploaded)
    faults = verify_objects(session, store, product, build, files)
    if faults:
        return describe_faults(faults)
    return _read_redirects(session, store, product, build)


def _tidy(session: Session, store: ObjectStore, product: Product, build: Build) -> None:
    """Staging is done with, whatever the outcome: what was wanted is in
    the build's prefix, and a repair uploads again."""
    with contextlib.suppress(StorageError):
        staging.discard(store, product, build)
        staging.sweep(session, store, product)


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
