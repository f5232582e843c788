"""Deleting a build and its objects."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, Edition, Organization, Product
from keeper.jobs.follow import product_changed
from keeper.services.errors import Conflict
from keeper.services.stores import StoreProvider, build_prefix, staging_prefix


def delete_build(
    session: Session,
    stores: StoreProvider,
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
    session.commit()
    store = stores.for_org(org)
    store.delete_prefix(build_prefix(product, build))
    # Its upload URLs may still write here until they expire; the next
    # confirmation of the product sweeps what they leave.
    store.delete_prefix(staging_prefix(product, build))
