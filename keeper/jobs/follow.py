"""What must follow a change that readers see, named where it is made.

A service that changes what a product's readers see calls
:func:`product_changed`; one that changes what every product of an org
shows (its domain, title, templates) calls :func:`org_changed`. Both only
add jobs to the caller's transaction.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from keeper.db import EdgeConfig, Product
from keeper.db.types import pk
from keeper.jobs.kinds import RENDER_PAGES, UPDATE_EDGES
from keeper.jobs.queue import enqueue


def product_changed(session: Session, product: Product) -> None:
    """The product's editions, builds or rules changed: render its pages
    and bring the org's edges up to date (purging the product)."""
    _pages(session, product)
    _edges(session, product.org_id, [pk(product)])


def org_changed(session: Session, org_id: int) -> None:
    """What every product of the org shows changed."""
    for product in session.exec(select(Product).where(Product.org_id == org_id)):
        _pages(session, product)
    _edges(session, org_id, [])


def _edges(session: Session, org_id: int, products: list[int]) -> None:
    # An org without a rendered edge is served by the built-in edge, which
    # reads the database itself, and an agent fetches its edge's files
    # itself: nothing to update.
    has_edges = session.exec(
        select(EdgeConfig.id).where(
            EdgeConfig.org_id == org_id, col(EdgeConfig.agent).is_(False)
        )
    ).first()
    if has_edges is not None:
        enqueue(
            session,
            UPDATE_EDGES,
            key=f"org:{org_id}",
            org_id=org_id,
            merge={"products": products},
        )


def catch_up(session: Session) -> None:
    """Every product's pages, once at start: a product published by an
    older keeper, or whose store was down, gets its pages."""
    for product in session.exec(select(Product)).all():
        _pages(session, product)


def _pages(session: Session, product: Product) -> None:
    enqueue(
        session,
        RENDER_PAGES,
        key=f"product:{pk(product)}",
        org_id=product.org_id,
        product_id=product.id,
    )
