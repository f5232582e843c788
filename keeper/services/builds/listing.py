"""A product's builds, newest first, as the API lists them."""

from __future__ import annotations

from sqlmodel import Session, select

from keeper.db import Build, BuildStatus, Product
from keeper.services.pagination import Page, PageResult, paginate


def list_product_builds(
    session: Session,
    product: Product,
    page: Page,
    *,
    git_ref: str | None = None,
    status: BuildStatus | None = None,
) -> PageResult[Build]:
    query = select(Build).where(Build.product_id == product.id)
    if git_ref is not None:
        query = query.where(Build.git_ref == git_ref)
    if status is not None:
        query = query.where(Build.status == status)
    newest_first = Page(limit=page.limit, after=page.after, newest_first=True)
    return paginate(session, query, Build.id, newest_first)
