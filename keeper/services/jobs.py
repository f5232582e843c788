"""An organization's jobs: listing them, one of them, running one again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from keeper.db import Job, JobStatus, Organization, Product
from keeper.db.types import utcnow
from keeper.jobs.queue import ENQUEUED
from keeper.services.errors import Conflict, NotFound
from keeper.services.lookup import get_product
from keeper.services.pagination import Page, PageResult, paginate


def list_jobs(
    session: Session,
    org: Organization,
    page: Page,
    *,
    statuses: Sequence[JobStatus] = (),
    kinds: Sequence[str] = (),
    product: str | None = None,
) -> PageResult[Any]:
    """The org's jobs, newest first, filtered by any of ``statuses`` and
    ``kinds`` and by product slug."""
    query = select(Job).where(Job.org_id == org.id)
    if statuses:
        query = query.where(col(Job.status).in_(list(statuses)))
    if kinds:
        query = query.where(col(Job.kind).in_(list(kinds)))
    if product is not None:
        query = query.where(Job.product_id == get_product(session, org, product).id)
    return paginate(session, query, Job.id, Page(page.limit, page.after, True))


def get_job(session: Session, org: Organization, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.org_id != org.id:
        # Another org's job is as absent as one that never was.
        raise NotFound(f"no job {job_id} in organization {org.slug!r}")
    return job


def retry_job(session: Session, job: Job) -> Job:
    """Run a failed or superseded job again, from its first attempt."""
    if job.status not in (JobStatus.failed, JobStatus.superseded):
        raise Conflict(f"job {job.id} is {job.status}; only failed jobs are retried")
    waiting = session.exec(
        select(Job.id).where(
            Job.kind == job.kind, Job.key == job.key, Job.status == JobStatus.queued
        )
    ).first()
    if waiting is not None:
        raise Conflict(f"job {waiting} already waits to do the same work")
    job.status = JobStatus.queued
    job.attempts = 0
    job.run_after = utcnow()
    job.finished = None
    session.add(job)
    session.info[ENQUEUED] = True
    return job


def product_slugs(session: Session, jobs: Sequence[Job]) -> dict[int, str]:
    """Product id → slug for the products ``jobs`` name that still exist."""
    ids = {j.product_id for j in jobs if j.product_id is not None}
    if not ids:
        return {}
    rows = session.exec(
        select(Product.id, Product.slug).where(col(Product.id).in_(list(ids)))
    ).all()
    return {pid: slug for pid, slug in rows if pid is not None}


def platform_jobs(
    session: Session,
    org: Organization | None,
    *,
    statuses: Sequence[JobStatus] = (),
    limit: int = 50,
) -> list[Job]:
    """The newest jobs of every org, or of one: what an operator sees with
    ``keeper jobs list``."""
    query = select(Job).order_by(col(Job.id).desc()).limit(limit)
    if org is not None:
        query = query.where(Job.org_id == org.id)
    if statuses:
        query = query.where(col(Job.status).in_(list(statuses)))
    return list(session.exec(query))


def get_any_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job
