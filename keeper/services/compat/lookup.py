"""Finding products and builds by the names the 1.x routes use: those
name no organization, so every lookup is within the compat org."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from keeper.db import Build, Organization, Product
from keeper.services.errors import NotFound


def find_build(session: Session, org: Organization, public_id: str) -> Build:
    """A build of any product of ``org``: 1.x build URLs name no product."""
    build = session.exec(
        select(Build)
        .join(Product, col(Product.id) == Build.product_id)
        .where(Product.org_id == org.id, Build.public_id == public_id)
    ).first()
    if build is None:
        raise NotFound(f"no build {public_id!r} in organization {org.slug!r}")
    return build


def product_of(session: Session, build: Build) -> Product:
    product = session.get(Product, build.product_id)
    if product is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound(f"build {build.public_id!r} has no product")
    return product


def products_of(session: Session, org: Organization) -> Sequence[Product]:
    return session.exec(
        select(Product).where(Product.org_id == org.id).order_by(Product.slug)
    ).all()
