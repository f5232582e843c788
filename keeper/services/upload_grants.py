"""Whether an upload URL may still write: only while its build is uploading.

Keeper's signed URLs leak into CI logs and outlive their upload by up to
their expiry. The database decides at each use instead: a build takes
files while it is pending (being uploaded) or failed (being repaired),
and from the moment it is confirmed every URL it handed out is refused.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from keeper.db import Build, BuildStatus, Organization, Product
from keeper.services.errors import Conflict, Forbidden, NotFound
from keeper.services.runtime import Runtime
from keeper.services.stores import staging_prefix
from keeper.storage import ObjectStore

#: The states in which a build's upload URLs work.
WRITABLE = frozenset({BuildStatus.pending, BuildStatus.failed})


def writable_store(
    session: Session, runtime: Runtime, *, org: str, build: str, key_prefix: str
) -> ObjectStore:
    """The store of ``org``, if its build ``build`` still takes uploads and
    ``key_prefix`` lies in that build's staging folder.

    Gives the session's connection back before returning: uploads stream
    for a while, and many at a time would otherwise hold every pooled
    connection and starve the rest of the API.
    """
    try:
        row = session.exec(
            select(Organization, Product, Build)
            .join(Product, col(Product.org_id) == Organization.id)
            .join(Build, col(Build.product_id) == Product.id)
            .where(Organization.slug == org, Build.public_id == build)
        ).first()
        if row is None:
            raise NotFound(f"build {build!r} no longer exists")
        found_org, product, found = row
        if found.status not in WRITABLE:
            raise Conflict(
                f"build {build!r} is {found.status}: its upload URLs ended with "
                "its upload"
            )
        if not key_prefix.startswith(staging_prefix(product, found)):
            # Grants are made for their own build only; this is a forgery
            # with a stolen key, or a bug.
            raise Forbidden("the upload URL does not belong to its build")
        return runtime.stores.for_org(found_org)
    finally:
        session.close()
