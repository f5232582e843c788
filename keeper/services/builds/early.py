"""Placing a build's uploads while the rest are still being sent.

A client may say which files it has sent before it confirms the build
(``POST …/builds/{id}/sent``); the ``place_uploads`` job then hashes and
places those as objects at once, so that confirmation, at the end of the
transfer, has only the last files left to read. Placing early is as safe
as placing at confirmation: only bytes that hash to their key become
objects (see :func:`keeper.services.builds.staging.place_uploads`), and a
file placed is simply held when the build is verified.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Job, Organization, Product
from keeper.db.batches import in_batches
from keeper.db.types import pk
from keeper.jobs.kinds import PLACE_UPLOADS
from keeper.jobs.queue import enqueue
from keeper.services import objects
from keeper.services.builds import staging
from keeper.services.builds.register import files_named
from keeper.services.errors import Conflict
from keeper.services.runtime import Runtime


def note_sent(
    session: Session, product: Product, build: Build, paths: list[str]
) -> int:
    """Queue the placing of ``paths`` (files of ``build`` the client has
    sent); returns how many were queued."""
    if build.status != BuildStatus.pending:
        raise Conflict(
            f"build {build.public_id!r} is {build.status}: files are placed "
            "early only while it is being uploaded"
        )
    found = files_named(session, build, paths)
    ids = [pk(f) for f in found.values() if not f.reused]
    if ids:
        enqueue(
            session,
            PLACE_UPLOADS,
            key=f"build:{pk(build)}",
            org_id=product.org_id,
            product_id=pk(product),
            merge={"files": ids},
            data={"build_id": pk(build)},
        )
    return len(ids)


def run(engine: Engine, runtime: Runtime, job: Job) -> None:
    """The job's handler: place what was sent; faults are left for the
    build's verification to report."""
    payload = job.payload or {}
    with Session(engine, expire_on_commit=False) as session:
        build = session.get(Build, int(payload.get("build_id", 0)))
        if build is None or build.status not in (
            BuildStatus.pending,
            BuildStatus.processing,
        ):
            return
        product = session.get(Product, build.product_id)
        org = session.get(Organization, product.org_id) if product else None
        assert product is not None and org is not None  # foreign keys
        ids = [int(i) for i in payload.get("files", [])]
        files = [
            f
            for batch in in_batches(ids)
            for f in session.exec(
                select(BuildFile).where(
                    col(BuildFile.id).in_(batch), BuildFile.build_id == build.id
                )
            )
        ]
        held = objects.present(session, product, {f.sha256 for f in files})
    placed = staging.place_uploads(
        runtime.stores.for_org(org), product, build, files, held
    )
    with Session(engine) as session:
        objects.record_placed(session, product, placed.objects)
        session.commit()
