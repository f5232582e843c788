"""The ``job`` table as a queue: enqueue, claim, finish.

Everything here runs in the caller's session and only flushes, except the
claim and the ends of a job, which the runner commits at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from keeper.db import Job, JobStatus
from keeper.db.types import utcnow

#: ``session.info`` flag: this transaction enqueued work (the runner of this
#: process is woken when it commits).
ENQUEUED = "keeper.jobs.enqueued"
#: The rows the unique index ``uq_job_queued_kind_key`` covers.
_WAITING = col(Job.status) == JobStatus.queued


def enqueue(
    session: Session,
    kind: str,
    *,
    key: str,
    org_id: int | None = None,
    product_id: int | None = None,
    merge: Mapping[str, Iterable[int]] | None = None,
    data: dict[str, Any] | None = None,
    max_attempts: int = 8,
    not_before: timedelta | None = None,
) -> None:
    """Add a job unless the same work (``kind`` and ``key``) already waits;
    ``merge`` adds ids to the payload lists of the waiting job, ``data``
    sets the payload's other fields of a new job (a waiting one keeps its
    own: its key says it is the same work). ``not_before`` delays a new job.

    Runs in the caller's transaction, so the job exists exactly when the
    change that needs it is committed.
    """
    wanted = {name: sorted(set(ids)) for name, ids in (merge or {}).items()}
    session.info[ENQUEUED] = True
    for _ in range(5):
        waiting = session.exec(
            select(Job).where(
                Job.kind == kind, Job.key == key, Job.status == JobStatus.queued
            )
        ).first()
        if waiting is not None:
            payload = _merged(waiting.payload or {}, wanted)
            if payload == waiting.payload:
                return
            # Only while it still waits: a runner may have taken it since.
            taken = session.execute(
                update(Job)
                .where(col(Job.id) == waiting.id, col(Job.status) == JobStatus.queued)
                .values(payload=payload)
                .execution_options(synchronize_session=False)
            )
            session.expire(waiting)
            if taken.rowcount:  # type: ignore[attr-defined]
                return
            continue
        row = Job(
            kind=kind,
            key=key,
            org_id=org_id,
            product_id=product_id,
            payload={**(data or {}), **wanted},
            max_attempts=max_attempts,
        )
        if not_before is not None:
            row.run_after = utcnow() + not_before
        if _insert_unless_waiting(session, row):
            return
        # Another transaction queued the same work and committed since we
        # looked: merge into that one.
    raise RuntimeError(f"could not enqueue {kind} {key}: it kept changing")


def _insert_unless_waiting(session: Session, row: Job) -> bool:
    """Insert ``row``; False when a queued job of its kind and key exists.

    ON CONFLICT rather than a savepoint: concurrent transactions on
    PostgreSQL wait for each other here instead of one failing, and
    SQLite's Python driver turns a savepoint outside a transaction into a
    commit of its own.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = row.model_dump(exclude={"id"})
    done = session.execute(
        insert(Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["kind", "key"], index_where=_WAITING)
        .returning(col(Job.id))
    )
    return done.first() is not None


def _merged(payload: dict[str, Any], wanted: dict[str, list[int]]) -> dict[str, Any]:
    merged = dict(payload)
    for name, ids in wanted.items():
        merged[name] = sorted(set(merged.get(name, [])) | set(ids))
    return merged


def claim(session: Session, worker: str, lease: timedelta) -> Job | None:
    """Take the oldest job that may run now, and commit that; None if none.

    A job may run when it is queued and due, or running on a lease that ran
    out (its runner died); never while another job of its kind and key
    holds a live lease, so the work on one thing runs one at a time.
    """
    now = utcnow()
    other = aliased(Job)
    busy = exists().where(
        col(other.kind) == col(Job.kind),
        col(other.key) == col(Job.key),
        col(other.id) != col(Job.id),
        col(other.status) == JobStatus.running,
        col(other.lease_until) >= now,
    )
    runnable = and_(
        or_(
            and_(col(Job.status) == JobStatus.queued, col(Job.run_after) <= now),
            and_(col(Job.status) == JobStatus.running, col(Job.lease_until) < now),
        ),
        ~busy,
    )
    candidates = session.exec(
        select(Job.id)
        .where(runnable)
        .order_by(col(Job.run_after), col(Job.id))
        .limit(8)
    ).all()
    for job_id in candidates:
        taken = session.execute(
            update(Job)
            .where(col(Job.id) == job_id, runnable)
            .values(
                status=JobStatus.running,
                attempts=Job.attempts + 1,
                worker=worker,
                lease_until=now + lease,
                started=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if taken.rowcount:  # type: ignore[attr-defined]
            return session.get(Job, job_id, populate_existing=True)
    return None


def set_lease(
    session: Session, job_ids: Iterable[int], worker: str, until: datetime
) -> None:
    """Move the lease of ``worker``'s running jobs to ``until`` (renewed
    while they run, or ended at once when their runner stops), and commit."""
    session.execute(
        update(Job)
        .where(
            col(Job.id).in_(list(job_ids)),
            col(Job.worker) == worker,
            col(Job.status) == JobStatus.running,
        )
        .values(lease_until=until)
    )
    session.commit()


def finish(session: Session, job: Job) -> None:
    job.status = JobStatus.done
    job.error = None
    job.finished = utcnow()
    job.lease_until = None
    session.add(job)
    session.commit()


def fail(
    session: Session,
    job: Job,
    error: str,
    *,
    backoff: timedelta,
    max_attempts: int | None = None,
) -> None:
    """Record a failed attempt: queued again after ``backoff``, failed for
    good once its attempts are spent (``max_attempts``, the runner's
    setting, or the job's own), or superseded when newer work of the same
    kind and key already waits (that job does what this one would)."""
    job.error = error[:4000]
    job.lease_until = None
    if max_attempts is not None:
        job.max_attempts = max_attempts
    if job.attempts >= job.max_attempts:
        job.status = JobStatus.failed
        job.finished = utcnow()
        session.add(job)
        session.commit()
        return
    waiting = session.exec(
        select(Job).where(
            Job.kind == job.kind, Job.key == job.key, Job.status == JobStatus.queued
        )
    ).first()
    if waiting is None:
        job.status = JobStatus.queued
        job.run_after = utcnow() + backoff
        session.add(job)
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()  # queued meanwhile: supersede below
    job = session.get(Job, job.id, populate_existing=True) or job
    job.error = error[:4000]
    job.status = JobStatus.superseded
    job.finished = utcnow()
    session.add(job)
    lists = {k: v for k, v in (job.payload or {}).items() if isinstance(v, list)}
    enqueue(session, job.kind, key=job.key, merge=lists)
    session.commit()


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """Exponential, with jitter so that many failed jobs do not come back
    in step: about base, 2·base, 4·base … up to cap seconds."""
    seconds = min(cap, base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=seconds * random.uniform(0.5, 1.0))


def prune(session: Session, before: datetime) -> int:
    """Forget jobs that ended well before ``before``; failed ones stay until
    someone retries or they age out the same way."""
    gone = session.execute(
        delete(Job).where(
            col(Job.status).in_([JobStatus.done, JobStatus.superseded]),
            col(Job.finished) < before,
        )
    )
    session.commit()
    return int(gone.rowcount)  # type: ignore[attr-defined]
