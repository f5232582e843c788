"""Objects for edges that cannot read keeper's store themselves.

Varnish reads no files: over a filesystem store, a rendered Varnish edge
fetches ``<product>/builds/<id>/<path>`` and the product's generated pages,
``<product>/_meta/<page>``, from keeper instead (see
:mod:`keeper.api.routes.edge_origin`). Only files of complete builds and
the pages of products of the org are served, the way every edge serves
them, and only to a caller that shows the org's edge secret: the route must
not become a way around an edge's rules (say, to a build no edition shows
any more, or to a draft's files without its ``noindex``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, select

from keeper.db import Build, BuildFile, BuildStatus, Organization, Product
from keeper.domain.content_types import content_type_for
from keeper.edge.site import meta_prefix
from keeper.services.errors import Forbidden, NotFound
from keeper.services.runtime import Runtime
from keeper.services.upload_urls import UploadSigner
from keeper.storage import InvalidKey, ObjectNotFound, ObjectStore, validate_key

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
    #: The whole object, when it was read to be found.
    data: bytes | None = None

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def open(self, start: int | None = None, end: int | None = None) -> Iterator[bytes]:
        if self.data is not None:
            return iter((self.data[start or 0 : None if end is None else end + 1],))
        return self.store.open(self.key, start=start, end=end)


def find_object(
    session: Session, runtime: Runtime, org_slug: str, key: str
) -> EdgeObject:
    """``key`` if it is a file of a complete build of the org
    (``<product>/builds/<id>/<path>``, from the build's manifest) or a
    generated page of one of its products (``<product>/_meta/<page>``);
    :class:`NotFound` for anything else."""
    missing = NotFound(f"no build object {key!r}")
    try:
        validate_key(key)
    except InvalidKey:
        raise missing from None
    product_slug, builds, public_id, path = (key.split("/", 3) + ["", "", ""])[:4]
    meta = meta_prefix(product_slug)
    if key.startswith(meta):
        return _generated_page(session, runtime, org_slug, product_slug, key)
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


def _generated_page(
    session: Session, runtime: Runtime, org_slug: str, product_slug: str, key: str
) -> EdgeObject:
    """A page keeper generated for the product, read whole: every publish
    replaces it, so its size and ETag must come from the bytes served."""
    org = session.exec(
        select(Organization)
        .join(Product, Product.org_id == Organization.id)  # type: ignore[arg-type]
        .where(Organization.slug == org_slug, Product.slug == product_slug)
    ).first()
    if org is None:
        raise NotFound(f"no product {product_slug!r}")
    store = runtime.stores.for_org(org)
    try:
        data = store.get(key)
    except ObjectNotFound:
        raise NotFound(f"no generated page {key!r}") from None
    return EdgeObject(
        key=key,
        size=len(data),
        content_type=content_type_for(key),
        sha256=hashlib.sha256(data).hexdigest(),
        store=store,
        data=data,
    )
