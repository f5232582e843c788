"""Product use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keeper.db import (
    MAIN_EDITION,
    Build,
    BuildFile,
    Edition,
    EditionHistory,
    EditionKind,
    Organization,
    Product,
    StoredObject,
)
from keeper.db.types import pk
from keeper.jobs.follow import product_changed
from keeper.services.changes import apply_changes
from keeper.services.errors import Conflict
from keeper.services.pagination import Page, PageResult, paginate
from keeper.services.removal import remove_objects
from keeper.services.stores import product_prefix


def create_product(session: Session, org: Organization, **fields: Any) -> Product:
    if session.exec(
        select(Product).where(Product.org_id == org.id, Product.slug == fields["slug"])
    ).first():
        raise Conflict(f"product {fields['slug']!r} already exists in {org.slug!r}")
    product = Product(org_id=pk(org), **fields)
    session.add(product)
    session.flush()
    # Every product is served at its root by __main, which follows `main`.
    session.add(
        Edition(
            product_id=pk(product),
            slug=MAIN_EDITION,
            title="Latest",
            kind=EditionKind.main,
            tracking_mode="git_ref",
            tracking_params={"git_ref": "main"},
        )
    )
    product_changed(session, product)
    session.flush()
    session.refresh(product)
    return product


def update_product(
    session: Session, product: Product, changes: dict[str, Any]
) -> Product:
    product_changed(session, product)
    return apply_changes(session, product, changes)


def delete_product(session: Session, org: Organization, product: Product) -> None:
    """Delete the product with its editions and builds; its stored objects
    go by a job once that is committed."""
    edition_ids = select(Edition.id).where(Edition.product_id == product.id)
    session.execute(
        delete(EditionHistory).where(col(EditionHistory.edition_id).in_(edition_ids))
    )
    session.execute(delete(Edition).where(col(Edition.product_id) == product.id))
    session.execute(delete(BuildFile).where(col(BuildFile.product_id) == product.id))
    session.execute(delete(Build).where(col(Build.product_id) == product.id))
    session.execute(
        delete(StoredObject).where(col(StoredObject.product_id) == product.id)
    )
    product_changed(session, product)
    session.delete(product)
    remove_objects(session, org, product_prefix(product))
    session.flush()


def list_products(
    session: Session, org: Organization, page: Page
) -> PageResult[Product]:
    query = select(Product).where(Product.org_id == org.id)
    return paginate(session, query, Product.id, page)
