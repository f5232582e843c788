"""The org's background jobs: what publishing did, is doing, or failed at."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel

from keeper.api.access import Admin, Reader
from keeper.api.deps import OrgDep, PageDep, RowId, SessionDep, link_next
from keeper.api.routing import api_router
from keeper.db import Job, JobStatus
from keeper.jobs.kinds import JobKind
from keeper.services import jobs

router = api_router(prefix="/orgs/{org}/jobs", tags=["jobs"])


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    status: JobStatus
    #: The product it concerns, if one (and it still exists).
    product: str | None
    attempts: int
    max_attempts: int
    #: The runner that has it (``host:pid:…``) while it runs, or had it last.
    worker: str | None
    #: Not run before this time (the backoff after a failed attempt).
    run_after: datetime
    #: Why the last attempt failed.
    error: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None


def _public(job: Job, slugs: dict[int, str]) -> JobPublic:
    return JobPublic(
        product=slugs.get(job.product_id) if job.product_id is not None else None,
        **job.model_dump(
            exclude={"product_id", "status", "kind", "key", "payload", "lease_until"}
        ),
        # The columns hold plain text, as build statuses do.
        status=JobStatus(job.status),
        kind=JobKind(job.kind),
    )


@router.get("")
def list_jobs(
    row: OrgDep,
    session: SessionDep,
    _: Reader,
    page: PageDep,
    request: Request,
    response: Response,
    status: Annotated[list[JobStatus] | None, Query(max_length=len(JobStatus))] = None,
    kind: Annotated[list[JobKind] | None, Query(max_length=len(JobKind))] = None,
    product: Annotated[str | None, Query(max_length=100)] = None,
) -> list[JobPublic]:
    """The org's jobs, newest first, optionally only those of the given
    statuses, kinds or product."""
    result = jobs.list_jobs(
        session, row, page, statuses=status or (), kinds=kind or (), product=product
    )
    link_next(request, response, result)
    slugs = jobs.product_slugs(session, result.items)
    return [_public(j, slugs) for j in result.items]


@router.get("/{job_id}")
def get_job(row: OrgDep, job_id: RowId, session: SessionDep, _: Reader) -> JobPublic:
    job = jobs.get_job(session, row, job_id)
    return _public(job, jobs.product_slugs(session, [job]))


@router.post("/{job_id}/retry")
def retry_job(row: OrgDep, job_id: RowId, session: SessionDep, _: Admin) -> JobPublic:
    """Run a failed job again from its first attempt (409 unless failed or
    superseded, or when the same work already waits)."""
    job = jobs.retry_job(session, jobs.get_job(session, row, job_id))
    return _public(job, jobs.product_slugs(session, [job]))
