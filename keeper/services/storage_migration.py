"""``keeper storage migrate``: convert builds stored as full prefixes
(before content addressing) into objects and manifests.

One build at a time, each in its own short transactions, so a run can be
stopped anywhere and run again: it picks up the builds not converted yet,
and every step is idempotent (an object already placed is skipped, a
manifest is rewritten the same). Editions keep serving throughout: the
build's prefix stays while its objects are placed, the built-in edge reads
the objects once the build says it is converted, and the prefix stays as
the build's plain-file copy for nginx, Varnish and Fastly (on a folder
store its files are hard-linked to the objects, so the bytes are kept
once). With ``drop_prefixes``, an org no such edge reads has its prefixes
deleted a minute later, once every keeper reads the objects.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from keeper.db import Build, BuildFile, BuildStatus, Organization, Product
from keeper.services import objects
from keeper.services.builds.materialize import materialize_build
from keeper.services.builds.staging import place_object
from keeper.services.builds.verification import has_prefix_edges, write_manifest
from keeper.services.removal import remove_objects
from keeper.services.runtime import Runtime
from keeper.services.stores import build_prefix
from keeper.storage import ObjectStore
from keeper.storage.factory import PrefixedStore
from keeper.storage.filesystem import FilesystemStore

_WORKERS = 16
#: How long a dropped prefix stays after its build reads objects: every
#: keeper's edge cache has long seen the change by then.
_DROP_AFTER = timedelta(minutes=1)


@dataclass
class MigrationReport:
    converted: list[str] = field(default_factory=list)
    #: Objects placed, and their bytes.
    objects: int = 0
    bytes: int = 0
    #: Build id → why it stays as it is (a file whose bytes are not what
    #: its manifest says, or that is missing).
    failed: dict[str, str] = field(default_factory=dict)
    #: Prefixes queued for deletion (``drop_prefixes``).
    dropped: int = 0
    #: Builds still stored as prefixes, not converted by this run.
    remaining: int = 0


def legacy_builds(session: Session, org: Organization | None = None) -> list[int]:
    query = (
        select(Build.id)
        .join(Product, col(Product.id) == Build.product_id)
        .where(
            col(Build.content_addressed).is_(False),
            Build.status == BuildStatus.complete,
        )
        .order_by(col(Build.id))
    )
    if org is not None:
        query = query.where(Product.org_id == org.id)
    return [i for i in session.exec(query) if i is not None]


def migrate(
    engine: Engine,
    runtime: Runtime,
    *,
    org: Organization | None = None,
    limit: int | None = None,
    drop_prefixes: bool = False,
    progress: Callable[[str, str], None] = lambda build, outcome: None,
) -> MigrationReport:
    report = MigrationReport()
    with Session(engine) as session:
        ids = legacy_builds(session, org)
    chosen = ids[:limit] if limit is not None else ids
    for build_id in chosen:
        problem = migrate_build(
            engine, runtime, build_id, drop_prefixes=drop_prefixes, report=report
        )
        progress(str(build_id), problem or "converted")
    with Session(engine) as session:
        report.remaining = len(legacy_builds(session, org))
    return report


def migrate_build(
    engine: Engine,
    runtime: Runtime,
    build_id: int,
    *,
    drop_prefixes: bool,
    report: MigrationReport,
) -> str | None:
    """Convert one build; returns why it could not be, if it could not."""
    with Session(engine, expire_on_commit=False) as session:
        build = session.get(Build, build_id)
        if build is None or build.content_addressed:
            return None  # gone, or converted by another run meanwhile
        product = session.get(Product, build.product_id)
        org = session.get(Organization, product.org_id) if product else None
        assert product is not None and org is not None  # foreign keys
        files = list(
            session.exec(select(BuildFile).where(BuildFile.build_id == build_id))
        )
        held = objects.present(session, product, {f.sha256 for f in files})
    store = runtime.stores.for_org(org)
    prefix = build_prefix(product, build)
    senders = {f.sha256: f for f in files if f.sha256 not in held}

    def place(f: BuildFile) -> str | None:
        return place_object(store, product, prefix + f.path, f)

    with ThreadPoolExecutor(_WORKERS) as pool:
        faults = [x for x in pool.map(place, senders.values()) if x is not None]
    if faults:
        why = ", ".join(sorted(faults)[:10])
        report.failed[build.public_id] = why
        return why
    with Session(engine) as session:
        objects.record_placed(
            session, product, {sha: f.size for sha, f in senders.items()}
        )
        session.commit()
    report.objects += len(senders)
    report.bytes += sum(f.size for f in senders.values())
    write_manifest(store, product, build, files)
    with Session(engine) as session:
        current = session.get(Build, build_id)
        if current is None:
            return None
        drop = drop_prefixes and not has_prefix_edges(session, org)
        current.content_addressed = True
        current.materialized = not drop
        session.add(current)
        if drop:
            remove_objects(session, org, prefix, after=_DROP_AFTER)
            report.dropped += 1
        session.commit()
    if not drop and _is_folder(store):
        # The prefix's files become links to the objects: one copy of the
        # bytes on disk (each replaced atomically by identical bytes).
        materialize_build(store, product, build, files)
    report.converted.append(build.public_id)
    return None


def _is_folder(store: ObjectStore) -> bool:
    while isinstance(store, PrefixedStore):
        store = store.store
    return isinstance(store, FilesystemStore)
