"""Builds as plain files, for the edges that read prefixes.

nginx, Varnish and Fastly map an edition to ``<product>/builds/<id>/`` and
read files there. A content-addressed build has no such prefix until it is
*materialized*: on a folder store each file becomes a hard link to its
object (no bytes copied, no space used); on S3 a server-side copy. The
``verify_build`` job does it before it completes a build, when the org has
such an edge, so an edition never switches to a build they cannot read.
An edge recorded later gets the org's existing builds by the
``materialize_builds`` job, and its agent is told to wait until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Job, Organization, Product
from keeper.db.types import pk
from keeper.jobs.kinds import MATERIALIZE_BUILDS
from keeper.jobs.queue import enqueue
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix, object_key
from keeper.storage import ObjectStore

#: Links and server-side copies run in parallel; stores are latency-bound.
_LINK_WORKERS = 32


def unmaterialized(session: Session, org: Organization) -> list[int]:
    """The org's complete builds that are not plain files yet."""
    return [
        pk(b)
        for b in session.exec(
            select(Build)
            .join(Product, col(Product.id) == Build.product_id)
            .where(
                Product.org_id == org.id,
                Build.status == BuildStatus.complete,
                col(Build.materialized).is_(False),
            )
            .order_by(col(Build.id))
        )
    ]


def queue_materialization(session: Session, org: Organization) -> None:
    """Queue the materialization of the org's builds (in the caller's
    transaction), for an edge that reads prefixes just recorded."""
    enqueue(session, MATERIALIZE_BUILDS, key=f"org:{pk(org)}", org_id=pk(org))


def materialize_build(
    store: ObjectStore, product: Product, build: Build, files: Sequence[BuildFile]
) -> None:
    """Write the build as plain files under its prefix, for edges that read
    prefixes: hard links on a folder store (no bytes copied), server-side
    copies on S3. Idempotent."""
    target = build_prefix(product, build)

    def link(f: BuildFile) -> None:
        store.copy(
            object_key(product, f.sha256), target + f.path, content_type=f.content_type
        )

    with ThreadPoolExecutor(_LINK_WORKERS) as pool:
        list(pool.map(link, files))


def run(engine: Engine, runtime: Runtime, job: Job) -> None:
    """The job's handler."""
    with Session(engine) as session:
        org = session.get(Organization, job.org_id)
    if org is not None:
        materialize_org(engine, runtime, org)


def materialize_org(engine: Engine, runtime: Runtime, org: Organization) -> int:
    """Materialize every complete build of the org that is not yet;
    returns how many. No transaction is open while files are written."""
    store = runtime.stores.for_org(org)
    with Session(engine) as session:
        ids = unmaterialized(session, org)
    for build_id in ids:
        with Session(engine, expire_on_commit=False) as session:
            build = session.get(Build, build_id)
            if build is None or build.materialized:
                continue
            product = session.get(Product, build.product_id)
            assert product is not None  # foreign key
            files = list(
                session.exec(select(BuildFile).where(BuildFile.build_id == build_id))
            )
        materialize_build(store, product, build, files)
        with Session(engine) as session:
            current = session.get(Build, build_id)
            if current is not None:
                current.materialized = True
                session.add(current)
                session.commit()
    return len(ids)
