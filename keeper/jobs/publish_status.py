"""Whether each edition's current build has reached every page and edge.

An edition that switches build records the product's ``publish_seq`` then
(:func:`mark_pending`). The pages job records the sequence whose state it
rendered (``Product.pages_seq``), each edge the sequence it applied per
product (``EdgeConfig.applied``). An edition is published once its pages
and every recorded edge of its org have applied its sequence or a later
one; if a job that had to show it gives up, it is failed with that job's
error until a later job succeeds.

Each job records what it did and then settles the editions, each in its
own committed transaction: of two jobs finishing together, at least the
later one sees both records.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import EdgeConfig, Edition, Job, Product, PublishStatus
from keeper.db.types import utcnow
from keeper.jobs.kinds import RENDER_PAGES, UPDATE_EDGES


def mark_pending(session: Session, edition: Edition) -> None:
    """The edition just switched build (in the caller's transaction, which
    holds the product's publish lock)."""
    edition.publish_seq = session.exec(
        select(Product.publish_seq).where(Product.id == edition.product_id)
    ).one()
    edition.publish_status = PublishStatus.pending
    edition.publish_error = None
    edition.published_at = None
    session.add(edition)


def record_pages(engine: Engine, product_id: int, seq: int) -> None:
    """The product's pages now show the state of ``seq``."""
    with Session(engine) as session:
        session.execute(
            update(Product)
            .where(col(Product.id) == product_id, col(Product.pages_seq) < seq)
            .values(pages_seq=seq)
        )
        session.commit()
    settle(engine, [product_id])


def settle(engine: Engine, product_ids: Iterable[int]) -> None:
    """Mark published the editions of these products that now are."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    with Session(engine) as session:
        waiting = session.exec(
            select(Edition).where(
                col(Edition.product_id).in_(ids),
                col(Edition.publish_status).in_(
                    [PublishStatus.pending, PublishStatus.failed]
                ),
            )
        ).all()
        if not waiting:
            return
        products = {
            p.id: p
            for p in session.exec(select(Product).where(col(Product.id).in_(ids)))
        }
        org_ids = {p.org_id for p in products.values()}
        edges = session.exec(
            select(EdgeConfig).where(col(EdgeConfig.org_id).in_(org_ids))
        ).all()
        now = utcnow()
        for edition in waiting:
            product = products.get(edition.product_id)
            if product is None:
                continue
            need = edition.publish_seq
            shown = product.pages_seq >= need and all(
                (edge.applied or {}).get(str(product.id), 0) >= need
                for edge in edges
                if edge.org_id == product.org_id
            )
            if shown:
                edition.publish_status = PublishStatus.published
                edition.publish_error = None
                edition.published_at = now
                session.add(edition)
        session.commit()


def settle_org(engine: Engine, org_id: int) -> None:
    """:func:`settle` every product of the org (its edges changed)."""
    with Session(engine) as session:
        found = session.exec(select(Product.id).where(Product.org_id == org_id))
        products = [pid for pid in found if pid is not None]
    settle(engine, products)


def gave_up(engine: Engine, job: Job, error: str) -> None:
    """``job`` failed for good with ``error``: the editions waiting on it
    are failed."""
    with Session(engine) as session:
        query = select(Edition).where(Edition.publish_status == PublishStatus.pending)
        if job.kind == RENDER_PAGES and job.product_id is not None:
            query = query.where(Edition.product_id == job.product_id)
        elif job.kind == UPDATE_EDGES and job.org_id is not None:
            in_org = select(Product.id).where(Product.org_id == job.org_id)
            query = query.where(col(Edition.product_id).in_(in_org))
        else:
            return
        for edition in session.exec(query):
            edition.publish_status = PublishStatus.failed
            edition.publish_error = f"{job.kind} (job {job.id}): {error}"
            session.add(edition)
        session.commit()
