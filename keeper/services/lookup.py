"""Loading resources by their public names, or a 404 that says which."""

from __future__ import annotations

from sqlmodel import Session, select

from keeper.db import Build, Edition, Organization, Product
from keeper.services.errors import NotFound


def get_org(session: Session, slug: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.slug == slug)).first()
    if org is None:
        raise NotFound(f"no organization {slug!r}")
    return org


def get_product(session: Session, org: Organization, slug: str) -> Product:
    product = session.exec(
        select(Product).where(Product.org_id == org.id, Product.slug == slug)
    ).first()
    if product is None:
        raise NotFound(f"no product {slug!r} in organization {org.slug!r}")
    return product


def find_edition(session: Session, product: Product, slug: str) -> Edition | None:
    return session.exec(
        select(Edition).where(Edition.product_id == product.id, Edition.slug == slug)
    ).first()


def get_edition(session: Session, product: Product, slug: str) -> Edition:
    edition = find_edition(session, product, slug)
    if edition is None:
        raise NotFound(f"no edition {slug!r} in product {product.slug!r}")
    return edition


def get_build(session: Session, product: Product, public_id: str) -> Build:
    build = session.exec(
        select(Build).where(
            Build.product_id == product.id, Build.public_id == public_id
        )
    ).first()
    if build is None:
        raise NotFound(f"no build {public_id!r} in product {product.slug!r}")
    return build


def build_by_id(session: Session, build_id: int | None) -> Build | None:
    return session.get(Build, build_id) if build_id is not None else None
