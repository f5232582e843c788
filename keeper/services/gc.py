"""Garbage collection: abandoned builds, and objects no build references.

An object goes only when no build of its product (whatever its status)
references its sha256 and nobody was told the product holds it for a
grace period (see :mod:`keeper.services.objects` for how registrations,
verifications and this agree without a lock held across the store).
Bytes in ``_objects/`` without a row (a verification that died between
placing and recording them) go after the same grace period.

It runs as the ``collect_garbage`` job, one per product, queued a grace
period after a build of it is registered or deleted; ``keeper gc`` runs it
at once, and ``keeper gc --dry-run`` says what it would remove.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from keeper.db import (
    Build,
    BuildFile,
    BuildStatus,
    Job,
    ObjectState,
    Organization,
    Product,
    StoredObject,
)
from keeper.db.batches import in_batches
from keeper.db.types import pk, utcnow
from keeper.services.builds.delete import delete_build
from keeper.services.objects import schedule_collection
from keeper.services.runtime import Runtime
from keeper.services.stores import object_key, objects_prefix
from keeper.storage import ObjectStore, StorageError

_DELETE_WORKERS = 16
#: Objects marked and deleted per transaction.
_BATCH = 1000
#: Build statuses that take uploads: the ones abandoned builds have.
_ABANDONABLE = (BuildStatus.pending, BuildStatus.failed)


@dataclass
class Collected:
    """What one product's collection removed (or, dry, would remove)."""

    org: str
    product: str
    expired_builds: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    #: Objects in the store with no row (left by a verification that died).
    stray: int = 0


def run(engine: Engine, runtime: Runtime, job: Job) -> None:
    """The job's handler."""
    if job.product_id is not None:
        collect_product(engine, runtime, job.product_id)


def collect_all(
    engine: Engine,
    runtime: Runtime,
    *,
    org: Organization | None = None,
    dry_run: bool = False,
) -> list[Collected]:
    """Collect every product's garbage (of ``org`` alone, if given)."""
    query = select(Product.id).order_by(col(Product.id))
    if org is not None:
        query = query.where(Product.org_id == org.id)
    with Session(engine) as session:
        ids = [i for i in session.exec(query).all() if i is not None]
    found = [collect_product(engine, runtime, i, dry_run=dry_run) for i in ids]
    return [c for c in found if c is not None]


def collect_product(
    engine: Engine,
    runtime: Runtime,
    product_id: int,
    *,
    dry_run: bool = False,
    grace_period: timedelta | None = None,
) -> Collected | None:
    """Collect one product's garbage; ``grace_period`` overrides the
    setting (tests use a short one)."""
    settings = runtime.settings
    now = utcnow()
    grace = now - (grace_period or timedelta(seconds=settings.gc_grace_seconds))
    abandoned = now - timedelta(seconds=settings.pending_build_expires_in)
    with Session(engine, expire_on_commit=False) as session:
        product = session.get(Product, product_id)
        org = session.get(Organization, product.org_id) if product else None
        if product is None or org is None:
            return None
        result = Collected(org.slug, product.slug)
        result.expired_builds = _expire_builds(
            session, runtime, org, product, abandoned, dry_run=dry_run
        )
        session.commit()
    store = runtime.stores.for_org(org)
    if dry_run:
        doomed = _unreferenced(engine, product, grace)
        result.objects = len(doomed)
        result.bytes = sum(doomed.values())
    else:
        while batch := _mark(engine, product, grace):
            _delete_bytes(store, product, batch)
            _forget(engine, product, batch)
            result.objects += len(batch)
            result.bytes += sum(batch.values())
    result.stray = _stray(engine, store, product, grace, dry_run=dry_run)
    if not dry_run:
        _schedule_next(engine, runtime, product)
    return result


def _schedule_next(engine: Engine, runtime: Runtime, product: Product) -> None:
    """Queue the next collection for when something next becomes
    collectable: an abandoned build's expiry, an object's grace."""
    settings = runtime.settings
    with Session(engine) as session:
        oldest_build = session.exec(
            select(Build.created)
            .where(Build.product_id == product.id, col(Build.status).in_(_ABANDONABLE))
            .order_by(col(Build.created))
        ).first()
        oldest_claim = session.exec(
            select(StoredObject.claimed)
            .where(_collectable(product, utcnow()))
            .order_by(col(StoredObject.claimed))
        ).first()
        due = [
            *(
                [oldest_build + timedelta(seconds=settings.pending_build_expires_in)]
                if oldest_build
                else []
            ),
            *(
                [oldest_claim + timedelta(seconds=settings.gc_grace_seconds)]
                if oldest_claim
                else []
            ),
        ]
        if not due:
            return
        wait = max(min(due) - utcnow(), timedelta(seconds=60))
        current = session.get(Product, product.id)
        if current is None:
            return
        schedule_collection(session, runtime, current, wait)
        session.commit()


def _expire_builds(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    before: datetime,
    *,
    dry_run: bool,
) -> list[str]:
    builds = list(
        session.exec(
            select(Build).where(
                Build.product_id == product.id,
                col(Build.status).in_(_ABANDONABLE),
                col(Build.created) < before,
            )
        )
    )
    if not dry_run:
        for build in builds:
            delete_build(session, runtime, org, product, build)
    return sorted(b.public_id for b in builds)


def _collectable(product: Product, grace: datetime) -> ColumnElement[bool]:
    """An object no build references, present, and claimed before
    ``grace``."""
    referenced = exists().where(
        and_(
            col(BuildFile.product_id) == col(StoredObject.product_id),
            col(BuildFile.sha256) == col(StoredObject.sha256),
        )
    )
    return and_(
        col(StoredObject.product_id) == pk(product),
        col(StoredObject.state) == ObjectState.present,
        col(StoredObject.claimed) < grace,
        ~referenced,
    )


def _unreferenced(engine: Engine, product: Product, grace: datetime) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            sa_select(col(StoredObject.sha256), col(StoredObject.size)).where(
                _collectable(product, grace)
            )
        )
        return {sha: size for sha, size in rows}


def _mark(engine: Engine, product: Product, grace: datetime) -> dict[str, int]:
    """Mark a batch of collectable objects ``deleting`` and commit: from
    then on no registration is told they are held."""
    with Session(engine) as session:
        chosen = (
            sa_select(col(StoredObject.sha256))
            .where(_collectable(product, grace))
            .limit(_BATCH)
            .scalar_subquery()
        )
        # The conditions again on the row itself: on PostgreSQL a claim
        # that committed meanwhile is seen here, and the row is skipped.
        rows = session.execute(
            update(StoredObject)
            .where(col(StoredObject.sha256).in_(chosen), _collectable(product, grace))
            .values(state=ObjectState.deleting)
            .returning(col(StoredObject.sha256), col(StoredObject.size))
            .execution_options(synchronize_session=False)
        )
        marked = {sha: size for sha, size in rows}
        session.commit()
        return marked


def _delete_bytes(store: ObjectStore, product: Product, batch: dict[str, int]) -> None:
    keys = [object_key(product, sha) for sha in batch]
    with ThreadPoolExecutor(_DELETE_WORKERS) as pool:
        list(pool.map(store.delete, keys))


def _forget(engine: Engine, product: Product, batch: dict[str, int]) -> None:
    with Session(engine) as session:
        session.execute(
            delete(StoredObject).where(
                col(StoredObject.product_id) == pk(product),
                col(StoredObject.state) == ObjectState.deleting,
                col(StoredObject.sha256).in_(list(batch)),
            )
        )
        session.commit()


def _stray(
    engine: Engine,
    store: ObjectStore,
    product: Product,
    grace: datetime,
    *,
    dry_run: bool,
) -> int:
    """Delete bytes under ``_objects/`` that no row records, once they are
    older than the grace period; returns how many."""
    prefix = objects_prefix(product)
    try:
        listed = {
            info.key.rpartition("/")[2]: info
            for info in store.list(prefix)
            if info.last_modified is None or info.last_modified < grace
        }
    except StorageError:
        return 0
    if not listed:
        return 0
    with Session(engine) as session:
        known: set[str] = set()
        hashes = sorted(listed)
        # Recorded, or uploaded straight to its key and not verified yet
        # (a pending build references it).
        for table in (StoredObject, BuildFile):
            for batch in in_batches(hashes):
                known.update(
                    session.exec(
                        select(table.sha256).where(
                            table.product_id == product.id,
                            col(table.sha256).in_(batch),
                        )
                    ).all()
                )
    stray = [info.key for sha, info in listed.items() if sha not in known]
    if not dry_run:
        for key in stray:
            with contextlib.suppress(StorageError):
                store.delete(key)
    return len(stray)
