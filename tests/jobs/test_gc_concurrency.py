"""Garbage collection never deletes what a build references, while builds
are registered, confirmed and deleted at the same time (on SQLite and on
PostgreSQL, with real threads and real transactions)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from datetime import timedelta

from sqlmodel import Session, select

from keeper.db import (
    Build,
    BuildFile,
    BuildStatus,
    ObjectState,
    Organization,
    Product,
    StoredObject,
)
from keeper.services import gc
from keeper.services.builds.confirm import request_confirmation
from keeper.services.builds.delete import delete_build
from keeper.services.builds.register import ManifestEntry, register_or_resume
from keeper.services.builds.verification import finish_confirmation
from keeper.services.errors import Conflict
from keeper.services.stores import object_key, staging_prefix
from tests.conftest import Keeper
from tests.jobs.conftest import engine, runner, runtime

#: Short, but far longer than any registration's transaction here.
GRACE = timedelta(seconds=0.5)
CONTENTS = [f"<p>content {i}</p>".encode() * 20 for i in range(24)]
BUILDS_PER_THREAD = 12


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish_direct(k: Keeper, files: dict[str, bytes]) -> str:
    """Register, upload (straight into staging) and confirm, as the API's
    handlers and jobs do, without the HTTP layer."""
    rt = runtime(k)
    with Session(engine(k), expire_on_commit=False) as session:
        org = session.exec(select(Organization)).one()
        product = session.exec(select(Product)).one()
        registration = register_or_resume(
            session,
            rt,
            org,
            product,
            git_ref="main",
            git_refs=None,
            alternate_name=None,
            manifest=[
                ManifestEntry(path, len(data), sha(data), "text/html")
                for path, data in sorted(files.items())
            ],
            ci={},
            uploader="test",
        )
        session.commit()
        build = registration.build
    store = rt.stores.for_org(org)
    for upload in registration.uploads:
        store.put(staging_prefix(product, build) + upload.path, files[upload.path])
    with Session(engine(k), expire_on_commit=False) as session:
        current = session.get(Build, build.id)
        assert current is not None
        request_confirmation(session, product, current, actor="test")
        session.commit()
    for _ in range(20):
        try:
            outcome = finish_confirmation(engine(k), rt, build.id or 0, actor="test")
        except Exception:  # an object being collected: the job would retry
            continue
        assert outcome.build is not None
        assert outcome.build.status == BuildStatus.complete, outcome.build.error
        return build.public_id
    raise AssertionError("never completed")


def delete_unserved(k: Keeper, keep: int) -> None:
    rt = runtime(k)
    with Session(engine(k), expire_on_commit=False) as session:
        org = session.exec(select(Organization)).one()
        product = session.exec(select(Product)).one()
        builds = list(
            session.exec(
                select(Build)
                .where(Build.status == BuildStatus.complete)
                .order_by(Build.id)  # type: ignore[arg-type]
            )
        )
        for build in builds[:-keep]:
            try:
                delete_build(session, rt, org, product, build)
                session.commit()
            except Conflict:  # an edition shows it
                session.rollback()


def test_collection_never_deletes_a_referenced_object(k: Keeper) -> None:
    runner(k).stop()  # this test runs every step itself
    rng = random.Random(13)
    errors: list[BaseException] = []
    done = threading.Event()
    collected = [0]

    def publisher(seed: int) -> None:
        local = random.Random(seed)
        try:
            for _ in range(BUILDS_PER_THREAD):
                picked = local.sample(CONTENTS, 6)
                publish_direct(k, {f"p{i}.html": c for i, c in enumerate(picked)})
                delete_unserved(k, keep=2)
                # Paced so that deleted builds' objects outlive the grace
                # period while later builds still want them.
                time.sleep(0.15)
        except BaseException as exc:
            errors.append(exc)

    def collector() -> None:
        try:
            while not done.is_set():
                found = gc.collect_product(engine(k), runtime(k), 1, grace_period=GRACE)
                collected[0] += found.objects if found else 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(rng.random(),)) for _ in "ab"]
    sweeper = threading.Thread(target=collector)
    sweeper.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    sweeper.join(timeout=60)
    assert not errors, errors

    # Every file of every build has its object, present and intact.
    store = None
    with Session(engine(k)) as session:
        org = session.exec(select(Organization)).one()
        product = session.exec(select(Product)).one()
        store = runtime(k).stores.for_org(org)
        referenced = set(session.exec(select(BuildFile.sha256)).all())
        present = {
            o.sha256
            for o in session.exec(select(StoredObject))
            if o.state == ObjectState.present
        }
    assert referenced <= present
    for digest in referenced:
        assert store.sha256(object_key(product, digest)) == digest
    # And the collector did collect meanwhile (the race was exercised).
    assert collected[0] > 0
