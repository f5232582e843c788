from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, text
from sqlmodel import Field, SQLModel

from keeper.db.types import UTCDateTime, utcnow


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    #: A retry found a newer queued job for the same work, which covers it.
    superseded = "superseded"


#: At most one queued job per kind and key: enqueueing the same work again
#: before it ran adds nothing (ten publishes of a product render it once).
_ONE_QUEUED = text("status = 'queued'")


class Job(SQLModel, table=True):
    """Work that must follow a committed change, written in the change's own
    transaction: a crash never loses it, a rollback never runs it."""

    __tablename__ = "job"
    __table_args__ = (
        Index(
            "uq_job_queued_kind_key",
            "kind",
            "key",
            unique=True,
            sqlite_where=_ONE_QUEUED,
            postgresql_where=_ONE_QUEUED,
        ),
        Index("ix_job_status_run_after", "status", "run_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: What to do (``keeper.jobs.kinds``).
    kind: str = Field(max_length=32)
    #: What it is done to; jobs of one kind and key run one at a time.
    key: str = Field(max_length=200)
    #: The org and product it concerns, for listing (no foreign keys: a job
    #: may outlive what it cleans up after).
    org_id: int | None = Field(default=None, index=True)
    product_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 8
    #: Not before this time (the backoff after a failed attempt).
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Who runs it and until when; past that the job is taken up again (its
    #: runner died).
    worker: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The last attempt's error.
    error: str | None = None
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished: datetime | None = Field(default=None, sa_type=UTCDateTime)
