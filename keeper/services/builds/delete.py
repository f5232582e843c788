"""Deleting a build: its manifest, plain-file copy and staging go by a
job once it is committed; the objects only it held, by garbage collection
after a grace period."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, Edition, Organization, Product
from keeper.jobs.follow import product_changed
from keeper.services import objects
from keeper.services.errors import Conflict
from keeper.services.removal import remove_objects
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix, manifest_key, staging_prefix


def delete_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    build: Build,
) -> None:
    serving = session.exec(
        select(Edition.slug).where(Edition.build_id == build.id)
    ).all()
    if serving:
        raise Conflict(
            f"build {build.public_id!r} is what edition(s) {', '.join(serving)} "
            "show; point them elsewhere first"
        )
    hashes = session.exec(
        select(BuildFile.sha256).where(BuildFile.build_id == build.id)
    ).all()
    session.execute(delete(BuildFile).where(col(BuildFile.build_id) == build.id))
    # A statement, not session.delete: deleting a build another request
    # deleted meanwhile is then simply nothing to do.
    session.execute(delete(Build).where(col(Build.id) == build.id))
    session.expunge(build)
    product_changed(session, product)
    # What only this build held is kept a grace period, then collected.
    objects.touch(session, product, hashes)
    objects.schedule_collection(session, runtime, product)
    # Its upload URLs may still write to staging until they expire; the
    # next confirmation of the product sweeps what they leave.
    remove_objects(
        session,
        org,
        manifest_key(product, build),
        build_prefix(product, build),
        staging_prefix(product, build),
    )
    session.flush()
