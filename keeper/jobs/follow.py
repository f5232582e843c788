"""What must follow a change that readers see, named where it is made.

A service that changes what a product's readers see calls
:func:`product_changed`; one that changes what every product of an org
shows (its domain, title, templates) calls :func:`org_changed`. Both only
add jobs to the caller's transaction.
"""

from __future__ import annotations

from sqlmodel import Session, select

from keeper.db import Build, BuildStatus, Product
from keeper.db.edge import written_edges
from keeper.db.types import pk
from keeper.jobs.kinds import RENDER_PAGES, UPDATE_EDGES, VERIFY_BUILD
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
    for edge_id in written_edges(session, org_id):
        enqueue(
            session,
            UPDATE_EDGES,
            key=f"edge:{edge_id}",
            org_id=org_id,
            merge={"products": products},
            data={"edge_id": edge_id},
        )


def catch_up(session: Session) -> None:
    """Once at start: every product's pages (a product published by an
    older keeper, or whose store was down, gets its pages), and the
    verification of builds an older keeper left half-confirmed."""
    for product in session.exec(select(Product)).all():
        _pages(session, product)
    processing = select(Build, Product.org_id).where(
        Build.status == BuildStatus.processing, Build.product_id == Product.id
    )
    for build, org_id in session.exec(processing).all():
        enqueue(
            session,
            VERIFY_BUILD,
            key=f"build:{pk(build)}",
            org_id=org_id,
            product_id=build.product_id,
            data={"build_id": pk(build), "actor": None},
        )


def _pages(session: Session, product: Product) -> None:
    enqueue(
        session,
        RENDER_PAGES,
        key=f"product:{pk(product)}",
        org_id=product.org_id,
        product_id=product.id,
    )
