"""``keeper storage migrate``: builds stored the old way (a full prefix
each) become objects and manifests, resumably, while every edition keeps
serving; on the filesystem store and on S3."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from keeper.app import create_app
from keeper.db import Build, BuildFile, Job, Product, StoredObject
from keeper.db.types import utcnow
from keeper.edge.cache import FRESH_FOR
from keeper.services import storage_migration
from keeper.services.stores import build_prefix, object_key
from keeper.storage import ObjectStore
from tests.conftest import BOOTSTRAP, Keeper, make_settings
from tests.jobs.conftest import engine, keeper_cli, runtime
from tests.publishing import create_lsst_pipelines, publish
from tests.servers import S3Endpoint
from tests.settled import SettledClient, settle

BASE = "/api/orgs/lsst/products/pipelines"
HOST = {"Host": "pipelines.lsst.io"}


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3server)])
def km(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Keeper]:
    storage = f"file://{tmp_path / 'storage'}"
    if request.param == "s3":
        moto: S3Endpoint = request.getfixturevalue("moto_s3")
        env = moto.keeper_env(moto.new_bucket())
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        storage = env["KEEPER_STORAGE_URL"]
    settings = make_settings(database_url, storage, tmp_path)
    with SettledClient(create_app(settings)) as client:
        create_lsst_pipelines(client, {"Authorization": "Bearer " + BOOTSTRAP})
        yield Keeper(client, settings)


def the_product(k: Keeper) -> Product:
    with Session(engine(k)) as session:
        return session.exec(select(Product)).one()


def org_store(k: Keeper) -> ObjectStore:
    from keeper.storage import child

    return child(runtime(k).stores.default(), "lsst")


def make_legacy(k: Keeper) -> None:
    """Turn every build into what a keeper before content addressing left:
    a full prefix of plain files, no objects, no manifests."""
    store = org_store(k)
    with Session(engine(k)) as session:
        product = session.exec(select(Product)).one()
        for build in session.exec(select(Build)):
            for f in session.exec(
                select(BuildFile).where(BuildFile.build_id == build.id)
            ):
                store.put(
                    build_prefix(product, build) + f.path,
                    store.get(object_key(product, f.sha256)),
                    content_type=f.content_type,
                )
        session.execute(delete(StoredObject))
        session.execute(
            update(Build).values(content_addressed=False, materialized=True)
        )
        session.commit()
    store.delete_prefix("pipelines/_objects/")
    store.delete_prefix("pipelines/_manifests/")
    # The built-in edge trusts its view of a product for FRESH_FOR: going
    # back to the old layout (which nothing but this test does) shows
    # after that.
    time.sleep(FRESH_FOR + 0.1)


def pages(label: str) -> dict[str, bytes]:
    return {
        "index.html": f"<h1>{label}</h1>".encode(),
        "guide/index.html": f"<p>guide {label}</p>".encode(),
        "_static/style.css": b"body { color: black }",
    }


def served(k: Keeper) -> dict[str, bytes]:
    found = {}
    for path in ("/", "/guide/", "/_static/style.css", "/v/draft/"):
        response = k.client.get(path, headers=HOST)
        assert response.status_code == 200, (path, response.text)
        found[path] = response.content
    return found


def test_migration_converts_every_build_and_serves_throughout(km: Keeper) -> None:
    k = km
    publish(k.client, BASE, k.auth(), pages("one"))
    publish(k.client, BASE, k.auth(), pages("two"))
    publish(k.client, BASE, k.auth(), pages("draft"), "draft")
    before = served(k)
    make_legacy(k)
    assert served(k) == before  # the old layout serves as it did
    store = org_store(k)

    seen: list[str] = []

    def check(build: str, outcome: str) -> None:
        seen.append(outcome)
        assert served(k) == before  # between any two steps

    # Stopped after one build (as a run that was interrupted) …
    first = storage_migration.migrate(engine(k), runtime(k), limit=1, progress=check)
    assert len(first.converted) == 1 and first.remaining == 2
    # … and run again: it goes on with the rest.
    rest = storage_migration.migrate(engine(k), runtime(k), progress=check)
    assert len(rest.converted) == 2 and rest.remaining == 0 and not rest.failed
    assert seen == ["converted"] * 3
    assert served(k) == before
    # Each distinct content once: 2 x 2 pages + draft's 2 + one stylesheet.
    objects = {i.key.rpartition("/")[2] for i in store.list("pipelines/_objects/")}
    assert len(objects) == 7
    with Session(engine(k)) as session:
        builds = list(session.exec(select(Build)))
        assert all(b.content_addressed for b in builds)
        assert {r.sha256 for r in session.exec(select(StoredObject))} == objects
    manifests = [i.key for i in store.list("pipelines/_manifests/")]
    assert len(manifests) == 3
    # Idempotent: nothing left to do, nothing changes.
    again = storage_migration.migrate(engine(k), runtime(k))
    assert again.converted == [] and again.objects == 0


def test_a_build_whose_files_changed_stays_as_it_is(km: Keeper) -> None:
    k = km
    good = publish(k.client, BASE, k.auth(), pages("good"), "draft")
    bad = publish(k.client, BASE, k.auth(), pages("bad"))
    make_legacy(k)
    org_store(k).put(
        build_prefix(the_product(k), bad["id"]) + "index.html", b"tampered"
    )
    report = storage_migration.migrate(engine(k), runtime(k))
    assert report.converted == [good["id"]]
    assert "index.html" in report.failed[bad["id"]]
    with Session(engine(k)) as session:
        state = {b.public_id: b.content_addressed for b in session.exec(select(Build))}
    assert state == {good["id"]: True, bad["id"]: False}
    # Still served from its prefix, as it was.
    assert k.client.get("/", headers=HOST).content == b"tampered"


def test_dropping_prefixes_once_no_edge_reads_them(km: Keeper) -> None:
    k = km
    publish(k.client, BASE, k.auth(), pages("one"))
    make_legacy(k)
    report = storage_migration.migrate(engine(k), runtime(k), drop_prefixes=True)
    assert report.dropped == 1
    store = org_store(k)
    assert list(store.list("pipelines/builds/"))  # kept for a minute …
    assert k.client.get("/guide/", headers=HOST).content == b"<p>guide one</p>"
    with Session(engine(k)) as session:
        session.execute(
            update(Job)
            .where(col(Job.kind) == "delete_objects")
            .values(run_after=utcnow())
        )
        session.commit()
    k.client.app.state.jobs.wake()  # type: ignore[attr-defined]
    settle(k.client)
    assert not list(store.list("pipelines/builds/"))  # … then gone
    assert k.client.get("/guide/", headers=HOST).content == b"<p>guide one</p>"


def test_on_a_folder_store_the_prefix_is_linked_to_the_objects(
    keeper: Keeper,
) -> None:
    k = keeper
    create_lsst_pipelines(k.client, k.auth())
    publish(k.client, BASE, k.auth(), pages("one"))
    make_legacy(k)
    storage_migration.migrate(engine(k), runtime(k))
    root = Path(k.settings.storage_url.removeprefix("file://")) / "lsst" / "pipelines"
    for path in root.glob("builds/*/**/*"):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            target = root / "_objects" / digest[:2] / digest
            assert os.stat(path).st_ino == os.stat(target).st_ino, path


def test_the_command_converts_and_says_what_is_left(keeper: Keeper) -> None:
    k = keeper
    create_lsst_pipelines(k.client, k.auth())
    publish(k.client, BASE, k.auth(), pages("one"))
    publish(k.client, BASE, k.auth(), pages("draft"), "draft")
    make_legacy(k)
    first = keeper_cli(k, "storage", "migrate", "--limit", "1")
    assert first.exit_code == 0, first.output
    assert "converted 1 build(s)" in first.output
    assert "1 build(s) still stored as prefixes" in first.output
    rest = keeper_cli(k, "storage", "migrate", "--org", "lsst")
    assert rest.exit_code == 0, rest.output
    assert "0 build(s) still stored as prefixes" in rest.output
    bad = keeper_cli(k, "storage", "migrate", "--limit", "0")
    assert bad.exit_code == 2 and "--limit" in bad.output
    assert served(k)["/"] == b"<h1>one</h1>"
