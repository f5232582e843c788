"""Build objects for edges that cannot read keeper's store themselves.

Varnish reads no files: over a filesystem store, a rendered Varnish edge
fetches ``<product>/builds/<id>/<path>`` from keeper instead (see
:mod:`keeper.api.routes.edge_origin`). Only files of complete builds are
served, the way every edge serves them, and only to a caller that shows the
org's edge secret: the route must not become a way around an edge's rules
(say, to a build no edition shows any more, or to a draft's files without
its ``noindex``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, select

from keeper.db import Build, BuildFile, BuildStatus, Organization, Product
from keeper.services.errors import Forbidden, NotFound
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import UploadSigner
from keeper.storage import InvalidKey, ObjectStore, validate_key

#: Where keeper serves the objects: ``<ORIGIN_PATH>/<org>/<key>``.
ORIGIN_PATH = "/_edge/origin"
#: The request header carrying :func:`origin_secret`.
SECRET_HEADER = "X-Keeper-Edge-Secret"
_PURPOSE = "edge-origin"


def origin_secret(signer: UploadSigner, org: str) -> str:
    """The secret an org's edges show the origin route.

    A MAC of the org slug under keeper's signing key, sealed under a
    purpose of its own so it can pass for no upload URL: every keeper
    process (and ``keeper edge render``) derives the same value, nothing
    stores it, and one org's secret opens no other org's objects.
    """
    return signer.seal(_PURPOSE, [org]).rpartition(".")[2]


def check_secret(signer: UploadSigner, org: str, presented: str | None) -> None:
    if presented is None or not hmac.compare_digest(
        presented.encode(), origin_secret(signer, org).encode()
    ):
        raise Forbidden("this route is for the organization's edge")


@dataclass(frozen=True)
class EdgeObject:
    key: str
    size: int
    content_type: str
    sha256: str
    store: ObjectStore

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def open(self, start: int | None = None, end: int | None = None) -> Iterator[bytes]:
        return self.store.open(self.key, start=start, end=end)


def find_object(
    session: Session, runtime: Runtime, org_slug: str, key: str
) -> EdgeObject:
    """The manifest entry of ``key`` (``<product>/builds/<id>/<path>``) in a
    complete build of the org; :class:`NotFound` for anything else."""
    missing = NotFound(f"no build object {key!r}")
    try:
        validate_key(key)
    except InvalidKey:
        raise missing from None
    product_slug, builds, public_id, path = (key.split("/", 3) + ["", "", ""])[:4]
    if builds != "builds" or not public_id or not path:
        raise missing
    row = session.exec(
        select(Organization, BuildFile)
        .join(Product, Product.org_id == Organization.id)  # type: ignore[arg-type]
        .join(Build, Build.product_id == Product.id)  # type: ignore[arg-type]
        .join(BuildFile, BuildFile.build_id == Build.id)  # type: ignore[arg-type]
        .where(
            Organization.slug == org_slug,
            Product.slug == product_slug,
            Build.public_id == public_id,
            Build.status == BuildStatus.complete,
            BuildFile.path == path,
        )
    ).first()
    if row is None:
        raise missing
    org, entry = row
    return EdgeObject(
        key=key,
        size=entry.size,
        content_type=entry.content_type,
        sha256=entry.sha256,
        store=runtime.stores.for_org(org),
    )
