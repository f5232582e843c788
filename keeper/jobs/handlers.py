"""The code that does each kind of job.

A handler gets the job's row and works from the state it reads then; it
raises to fail the attempt. Handlers are idempotent: a job runs again after
a crash or a lost lease, and must then leave the same result.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from keeper.db import Job
from keeper.edge.configs import refresh_edges
from keeper.jobs import publish_status
from keeper.jobs.kinds import RENDER_PAGES, UPDATE_EDGES
from keeper.pages.publish import write_pages
from keeper.services.runtime import Runtime

Handler = Callable[[Engine, Runtime, Job], None]


class JobFailed(Exception):
    """The work ran and did not succeed; the message says why."""


def render_pages(engine: Engine, runtime: Runtime, job: Job) -> None:
    assert job.product_id is not None
    seq = write_pages(engine, runtime, job.product_id)
    if seq is not None:
        publish_status.record_pages(engine, job.product_id, seq)


def update_edges(engine: Engine, runtime: Runtime, job: Job) -> None:
    assert job.org_id is not None
    products = list((job.payload or {}).get("products", []))
    errors = refresh_edges(engine, runtime, job.org_id, products)
    # Edges that worked recorded what they applied, even if others failed.
    publish_status.settle_org(engine, job.org_id)
    if errors:
        raise JobFailed("; ".join(errors))


#: Called when a job of the kind fails for good.
gave_up = publish_status.gave_up


HANDLERS: dict[str, Handler] = {
    RENDER_PAGES: render_pages,
    UPDATE_EDGES: update_edges,
}
