"""The ``verify_build`` job: place a confirmed build's uploads as
content-addressed objects (verifying each), write its manifest object,
materialize it for edges that read prefixes, then complete the build and
re-point editions by rule.

This is a job's unit of work, so it commits, in short transactions around
the slow part: it reads the manifest and ends that transaction, copies
and hashes objects with none open, and then takes the product's lock for
the one transaction that completes the build, moves its editions and
queues their pages and edges. Run again after a crash (or by a second
runner), it leaves the same result: copies are idempotent, and only a
build still ``processing`` under the product's lock is completed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import (
    Build,
    BuildFile,
    BuildStatus,
    EdgeConfig,
    Edition,
    Job,
    Organization,
    Product,
)
from keeper.db.types import utcnow
from keeper.edge.redirects import REDIRECTS_FILE, RedirectError, parse_redirects_file
from keeper.jobs.follow import product_changed
from keeper.services import objects
from keeper.services.builds import staging
from keeper.services.builds.confirm import fail
from keeper.services.builds.faults import describe_faults
from keeper.services.builds.materialize import (
    materialize_build,
    queue_materialization,
)
from keeper.services.compat.manifest import LandedRefused, record_landed_manifest
from keeper.services.compat.register import COMPAT_MARK
from keeper.services.publish import apply_tracking, lock_product
from keeper.services.runtime import Runtime
from keeper.services.stores import manifest_key, object_key
from keeper.storage import ObjectNotFound, ObjectStore, StorageError


@dataclass
class Outcome:
    """The build as verification left it (``None``: deleted meanwhile) and
    the editions it moved."""

    build: Build | None
    moved: list[Edition] = field(default_factory=list)


def run(engine: Engine, runtime: Runtime, job: Job) -> None:
    """The job's handler. A storage failure raises: the job is retried
    with backoff, and the build stays ``processing`` meanwhile."""
    payload = job.payload or {}
    finish_confirmation(
        engine,
        runtime,
        int(payload["build_id"]),
        actor=payload.get("actor"),
    )


def gave_up(engine: Engine, job: Job, error: str) -> None:
    """Every attempt failed: the build is failed, with why, rather than
    ``processing`` for ever; confirming it again starts over."""
    build_id = int((job.payload or {}).get("build_id", 0))
    fail_if_processing(
        engine, build_id, f"could not verify the build (job {job.id}): {error}"
    )


def fail_if_processing(engine: Engine, build_id: int, error: str) -> None:
    """Fail the build with ``error`` unless it left ``processing`` meanwhile
    (completed by another runner, failed, deleted)."""
    with Session(engine) as session:
        build = session.get(Build, build_id)
        if build is not None and build.status == BuildStatus.processing:
            fail(session, build, error)
            session.commit()


def finish_confirmation(
    engine: Engine,
    runtime: Runtime,
    build_id: int,
    *,
    actor: str | None,
) -> Outcome:
    """Verify the ``processing`` build ``build_id`` and complete it, or
    fail it naming the files at fault. Any other build is left alone.

    A build registered the LTD Keeper 1.x way declared no manifest: what
    landed in its staging folder becomes its manifest first.
    """
    with Session(engine, expire_on_commit=False) as session:
        build = session.get(Build, build_id)
        if build is None or build.status != BuildStatus.processing:
            return Outcome(build)
        product = session.get(Product, build.product_id)
        org = session.get(Organization, product.org_id) if product else None
        assert product is not None and org is not None  # foreign keys
        store = runtime.stores.for_org(org)
        session.commit()  # nothing slow runs inside a transaction
        if (build.ci or {}).get(COMPAT_MARK) is not None:
            refused = _record_landed(session, store, product, build)
            if refused:
                return _failed(session, build, refused)
        files = list(
            session.exec(select(BuildFile).where(BuildFile.build_id == build_id))
        )
        held = objects.present(session, product, {f.sha256 for f in files})
        session.commit()
        placed = _place_and_check(store, product, build, files, held)
        # Recorded whatever else is wrong: what was placed is then kept (or
        # collected) by the rules every object follows, and a repair sends
        # only the files at fault.
        objects.record_placed(session, product, placed.objects)
        session.commit()
        if placed.faults:
            _tidy(engine, store, product, build)
            return _failed(session, build, describe_faults(sorted(placed.faults)))
        redirects, error = _read_redirects(store, product, files)
        if error:
            _tidy(engine, store, product, build)
            return _failed(session, build, error)
        write_manifest(store, product, build, files)
        materialized = has_prefix_edges(session, org)
        session.commit()
        if materialized:
            materialize_build(store, product, build, files)
        _tidy(engine, store, product, build)
        return _complete(
            session, product, build, redirects, materialized=materialized, actor=actor
        )


def _place_and_check(
    store: ObjectStore,
    product: Product,
    build: Build,
    files: list[BuildFile],
    held: set[str],
) -> staging.Placed:
    """Place the build's uploads as objects; every other file's object
    must be held already (or be placed by another path's upload)."""
    uploaded = [f for f in files if not f.reused]
    placed = staging.place_uploads(store, product, build, uploaded, held)
    sent = {f.sha256 for f in uploaded}
    placed.faults += [
        f"{f.path} (keeper no longer holds its bytes; upload it again)"
        for f in files
        if f.reused and f.sha256 not in held and f.sha256 not in sent
    ]
    return placed


def write_manifest(
    store: ObjectStore, product: Product, build: Build, files: list[BuildFile]
) -> None:
    """The build's manifest as a store object: a build can be served or
    recovered from the store alone."""
    document = {
        "build": build.public_id,
        "product": product.slug,
        "git_ref": build.git_ref,
        "files": [
            {
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256,
                "content_type": f.content_type,
            }
            for f in sorted(files, key=lambda f: f.path)
        ],
    }
    encoded = json.dumps(document, separators=(",", ":")).encode()
    store.put(
        manifest_key(product, build),
        # mtime=0: the same manifest always compresses to the same bytes.
        gzip.compress(encoded, mtime=0),
        content_type="application/gzip",
    )


def has_prefix_edges(session: Session, org: Organization) -> bool:
    """True when an edge of the org reads builds as plain prefixes (every
    recorded edge: nginx, Varnish, Fastly); only the built-in edge reads
    through manifests."""
    return (
        session.exec(
            select(EdgeConfig.id).where(EdgeConfig.org_id == org.id).limit(1)
        ).first()
        is not None
    )


def _record_landed(
    session: Session, store: ObjectStore, product: Product, build: Build
) -> str | None:
    """Make what landed the build's manifest (1.x uploads); returns why it
    cannot be, if it cannot."""
    try:
        landed = record_landed_manifest(session, store, product, build)
    except LandedRefused as exc:
        with contextlib.suppress(StorageError):
            staging.discard(store, product, build)
        return str(exc)
    if not landed:
        return "nothing was uploaded: the build's folder is empty"
    session.commit()
    return None


def _tidy(engine: Engine, store: ObjectStore, product: Product, build: Build) -> None:
    """Staging is done with, whatever the outcome: what was wanted is in
    the build's prefix, and a repair uploads again."""
    with contextlib.suppress(StorageError):
        staging.discard(store, product, build)
        with Session(engine) as session:
            leftovers = staging.leftovers(session, store, product)
        staging.discard_all(store, product, leftovers)


def _failed(session: Session, build: Build, error: str) -> Outcome:
    # Files checked before a later check failed (a bad _redirects) must
    # not count as verified: the repair re-uploads, and all is checked again.
    session.expunge_all()
    current = session.get(Build, build.id)
    if current is None or current.status != BuildStatus.processing:
        session.rollback()
        return Outcome(current)
    fail(session, current, error)
    session.commit()
    return Outcome(current)


def _complete(
    session: Session,
    product: Product,
    build: Build,
    redirects: list[dict[str, Any]],
    *,
    materialized: bool,
    actor: str | None,
) -> Outcome:
    lock_product(session, product)
    # Under the lock: someone may have deleted the build meanwhile, or
    # another runner of this job completed it.
    if not _still_processing(session, build):
        return Outcome(_reread(session, build))
    build.status = BuildStatus.complete
    build.completed = utcnow()
    build.redirects = redirects
    build.materialized = materialized
    session.add(build)
    session.execute(
        update(BuildFile)
        .where(col(BuildFile.build_id) == build.id)
        .values(sha256_verified=True)
    )
    if not materialized:
        org = session.get(Organization, product.org_id)
        if org is not None and has_prefix_edges(session, org):
            # An edge that reads prefixes was recorded since we looked.
            queue_materialization(session, org)
    moved = apply_tracking(session, product, build, actor=actor)
    product_changed(session, product)
    session.commit()
    return Outcome(build, moved)


def _still_processing(session: Session, build: Build) -> bool:
    status = session.exec(select(Build.status).where(Build.id == build.id)).first()
    return status == BuildStatus.processing


def _reread(session: Session, build: Build) -> Build | None:
    """The build as it now is, dropping what this run changed."""
    session.rollback()
    return session.get(Build, build.id, populate_existing=True)


def _read_redirects(
    store: ObjectStore, product: Product, files: list[BuildFile]
) -> tuple[list[dict[str, Any]], str | None]:
    """The rules of the build's ``_redirects``, and why the file cannot be
    used if it cannot.

    A bad rule fails the build rather than being skipped: a site whose
    redirects silently vanish is worse than one that is not published.
    """
    found = next((f for f in files if f.path == REDIRECTS_FILE), None)
    if found is None:
        return [], None
    try:
        text = store.get(object_key(product, found.sha256))
    except ObjectNotFound:
        return [], f"{REDIRECTS_FILE} (missing)"
    try:
        rules = parse_redirects_file(text.decode("utf-8"))
    except UnicodeDecodeError:
        return [], f"{REDIRECTS_FILE} is not UTF-8 text"
    except RedirectError as exc:
        return [], str(exc)
    return [rule.as_dict() for rule in rules], None
