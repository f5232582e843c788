"""The code that does each kind of job.

A handler gets the job's row and works from the state it reads then; it
raises to fail the attempt. Handlers are idempotent: a job runs again after
a crash or a lost lease, and must then leave the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from keeper.db import Job
from keeper.edge.configs import org_edges, refresh_edge
from keeper.jobs import publish_status
from keeper.jobs.kinds import RENDER_PAGES, UPDATE_EDGES
from keeper.pages.publish import write_pages
from keeper.services.runtime import Runtime

Handler = Callable[[Engine, Runtime, Job], None]
#: Called with the job and its last error when a job fails for good.
GiveUp = Callable[[Engine, Job, str], None]


@dataclass(frozen=True)
class Work:
    """The code a runner runs: a handler per kind of job, and what to do
    when one of a kind fails for good. The whole of keeper's is
    :data:`keeper.services.work.WORK` (some of its jobs are use cases)."""

    handlers: Mapping[str, Handler]
    gave_up: Mapping[str, GiveUp] = field(default_factory=dict)


class JobFailed(Exception):
    """The work ran and did not succeed; the message says why."""


def render_pages(engine: Engine, runtime: Runtime, job: Job) -> None:
    assert job.product_id is not None
    seq = write_pages(engine, runtime, job.product_id)
    if seq is not None:
        publish_status.record_pages(engine, job.product_id, seq)


def update_edges(engine: Engine, runtime: Runtime, job: Job) -> None:
    """One edge of an org: each has its own job, so a failing CDN is
    retried on its own and never holds up a working nginx."""
    assert job.org_id is not None
    payload = job.payload or {}
    products = list(payload.get("products", []))
    if "edge_id" in payload:
        error = refresh_edge(engine, runtime, int(payload["edge_id"]), products)
    else:  # queued by a keeper before edges had a job each: all of the org's
        errors = [
            refresh_edge(engine, runtime, edge_id, products)
            for edge_id in org_edges(engine, job.org_id)
        ]
        error = "; ".join(e for e in errors if e) or None
    # What it applied counts even if it failed (it records nothing then).
    publish_status.settle_org(engine, job.org_id)
    if error:
        raise JobFailed(error)


#: The jobs that publish (pages and edges); their editions are failed when
#: one fails for good.
PUBLISHING = Work(
    handlers={RENDER_PAGES: render_pages, UPDATE_EDGES: update_edges},
    gave_up={
        RENDER_PAGES: publish_status.gave_up,
        UPDATE_EDGES: publish_status.gave_up,
    },
)
