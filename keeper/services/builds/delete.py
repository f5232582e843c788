"""Deleting a build; its objects go by a job once it is committed."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, Edition, Organization, Product
from keeper.jobs.follow import product_changed
from keeper.services.errors import Conflict
from keeper.services.removal import remove_objects
from keeper.services.stores import build_prefix, staging_prefix


def delete_build(
    session: Session,
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
    session.execute(delete(BuildFile).where(col(BuildFile.build_id) == build.id))
    session.delete(build)
    product_changed(session, product)
    # Its upload URLs may still write to staging until they expire; the
    # next confirmation of the product sweeps what they leave.
    remove_objects(
        session, org, build_prefix(product, build), staging_prefix(product, build)
    )
    session.flush()
