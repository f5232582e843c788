"""Deleting stored objects after the rows that pointed at them.

A service that deletes rows names the objects to go with
:func:`remove_objects`; the ``delete_objects`` job deletes them once that
transaction has committed. A crash in between leaves unreferenced objects
(harmless, and the job runs again), never rows pointing at missing ones,
and no request waits on a store while its transaction is open.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from keeper.db import Job, Organization
from keeper.db.types import pk
from keeper.jobs.kinds import DELETE_OBJECTS
from keeper.jobs.queue import enqueue
from keeper.services.runtime import Runtime


def remove_objects(
    session: Session,
    org: Organization,
    *prefixes: str,
    after: timedelta | None = None,
) -> None:
    """Queue the deletion of every object under ``prefixes`` in ``org``'s
    store, in the caller's transaction (``after`` that long, if given)."""
    for prefix in prefixes:
        enqueue(
            session,
            DELETE_OBJECTS,
            key=f"org:{pk(org)}:{prefix}",
            org_id=pk(org),
            data={"prefix": prefix},
            not_before=after,
        )


def run(engine: Engine, runtime: Runtime, job: Job) -> None:
    """The job's handler; deleting what is already gone is a no-op."""
    with Session(engine) as session:
        org = session.get(Organization, job.org_id)
    if org is None:  # the org went too: its store is no longer keeper's
        return
    prefix = str((job.payload or {})["prefix"])
    runtime.stores.for_org(org).delete_prefix(prefix)
