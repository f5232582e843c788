"""Content-addressed builds: each file's bytes are stored once per
product, a build is its manifest, and garbage collection removes only
what no build references, after its grace period."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from keeper.db import Build, StoredObject
from keeper.db.types import utcnow
from keeper.services import gc
from tests.conftest import Keeper
from tests.jobs.conftest import engine, keeper_cli, runtime
from tests.publishing import (
    confirm,
    failed_with,
    manifest_of,
    publish,
    register,
    upload,
)

BASE = "/api/orgs/lsst/products/pipelines"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_root(k: Keeper) -> Path:
    return Path(k.settings.storage_url.removeprefix("file://")) / "lsst" / "pipelines"


def stored_objects(k: Keeper) -> dict[str, bytes]:
    """The product's objects as they are on disk, by file name."""
    root = store_root(k) / "_objects"
    return {p.name: p.read_bytes() for p in root.glob("*/*") if p.is_file()}


def docs(n: int, label: str = "v1") -> dict[str, bytes]:
    files = {f"p{i}.html": f"<p>page {i} of {label}</p>".encode() for i in range(n)}
    files["_static/style.css"] = b"body { color: black }"
    return files


def test_a_new_build_is_asked_only_for_bytes_the_product_lacks(k: Keeper) -> None:
    first = docs(10)
    publish(k.client, BASE, k.auth(), first)
    second = {**first, "p3.html": b"<p>page 3, edited</p>", "new.html": b"<p>new</p>"}
    build = register(k.client, BASE, k.auth(), second)
    assert sorted(u["path"] for u in build["uploads"]) == ["new.html", "p3.html"]
    upload(k.client, build, second)
    assert confirm(k.client, BASE, k.auth(), build["id"]).json()["status"] == (
        "complete"
    )
    # Every distinct content once: 11 of the first build, 2 new ones.
    objects = stored_objects(k)
    assert len(objects) == 13
    assert all(sha(data) == name for name, data in objects.items())
    # No build is a prefix of plain files: no edge here reads one.
    assert not (store_root(k) / "builds").exists()


def test_the_same_bytes_at_two_paths_are_sent_once(k: Keeper) -> None:
    files = {"a.html": b"same", "b/c.html": b"same", "index.html": b"other"}
    build = register(k.client, BASE, k.auth(), files)
    assert sorted(u["path"] for u in build["uploads"]) == ["a.html", "index.html"]
    upload(k.client, build, files)
    assert confirm(k.client, BASE, k.auth(), build["id"]).json()["status"] == (
        "complete"
    )
    host = {"Host": "pipelines.lsst.io"}
    assert k.client.get("/b/c.html", headers=host).content == b"same"


def test_the_manifest_is_also_an_object_in_the_store(k: Keeper) -> None:
    files = docs(3)
    build = publish(k.client, BASE, k.auth(), files)
    manifest = json.loads(
        gzip.decompress(
            (store_root(k) / "_manifests" / f"{build['id']}.json.gz").read_bytes()
        )
    )
    assert manifest["build"] == build["id"]
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        path: sha(data) for path, data in files.items()
    }


def test_the_edge_etag_is_the_content_hash_in_every_build(k: Keeper) -> None:
    publish(k.client, BASE, k.auth(), docs(3, "one"))
    host = {"Host": "pipelines.lsst.io"}
    before = k.client.get("/_static/style.css", headers=host)
    publish(k.client, BASE, k.auth(), docs(3, "two"))
    after = k.client.get("/_static/style.css", headers=host)
    page = k.client.get("/p1.html", headers=host)
    assert before.headers["ETag"] == after.headers["ETag"]
    assert after.headers["ETag"] == f'"{sha(b"body { color: black }")}"'
    assert page.content == b"<p>page 1 of two</p>"
    assert page.headers["ETag"] == f'"{sha(page.content)}"'


def test_bytes_that_are_not_what_the_manifest_says_are_never_placed(
    k: Keeper,
) -> None:
    files = docs(2)
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)
    # Other bytes in staging, as an S3 server that does not check what a
    # presigned URL signed would let a leaked URL write.
    (store_root(k) / "_staging" / build["id"] / "p1.html").write_bytes(b"evil")
    error = failed_with(confirm(k.client, BASE, k.auth(), build["id"]))
    assert "p1.html (size 4, manifest says" in error
    assert sha(files["p1.html"]) not in stored_objects(k)
    assert sha(b"evil") not in stored_objects(k)
    assert sha(files["p0.html"]) in stored_objects(k)


def age(k: Keeper, seconds: int) -> None:
    """Make every claim and build ``seconds`` older."""
    past = utcnow() - timedelta(seconds=seconds)
    with Session(engine(k)) as session:
        session.execute(update(StoredObject).values(claimed=past))
        session.execute(update(Build).values(created=past))
        session.commit()


def test_collection_deletes_only_what_no_build_references(k: Keeper) -> None:
    keep = publish(k.client, BASE, k.auth(), docs(3, "kept"))
    gone = publish(k.client, BASE, k.auth(), docs(3, "gone"))
    # The edition moved on to "gone"; point it back so "gone" can go.
    response = k.client.patch(
        f"{BASE}/editions/__main", headers=k.auth(), json={"build": keep["id"]}
    )
    assert response.status_code == 200, response.text
    response = k.client.delete(f"{BASE}/builds/{gone['id']}", headers=k.auth())
    assert response.status_code == 204, response.text
    only_gone = {sha(f"<p>page {i} of gone</p>".encode()) for i in range(3)}
    assert only_gone <= set(stored_objects(k))

    # Within the grace period nothing goes, even unreferenced.
    found = gc.collect_product(engine(k), runtime(k), 1)
    assert found is not None and found.objects == 0
    assert only_gone <= set(stored_objects(k))

    age(k, 2 * runtime(k).settings.gc_grace_seconds)
    dry = gc.collect_product(engine(k), runtime(k), 1, dry_run=True)
    assert dry is not None and dry.objects == 3
    assert only_gone <= set(stored_objects(k))  # a dry run deletes nothing

    done = gc.collect_product(engine(k), runtime(k), 1)
    assert done is not None and done.objects == 3
    left = set(stored_objects(k))
    assert not only_gone & left
    assert sha(b"body { color: black }") in left  # "kept" still uses it
    host = {"Host": "pipelines.lsst.io"}
    for i in range(3):
        page = k.client.get(f"/p{i}.html", headers=host)
        assert page.content == f"<p>page {i} of kept</p>".encode()


def test_abandoned_pending_builds_expire_with_what_only_they_held(
    k: Keeper,
) -> None:
    files = docs(2, "abandoned")
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)  # staged, never confirmed
    staged = store_root(k) / "_staging" / build["id"]
    assert staged.is_dir()
    age(k, runtime(k).settings.pending_build_expires_in + 60)
    found = gc.collect_product(engine(k), runtime(k), 1)
    assert found is not None and found.expired_builds == [build["id"]]
    assert k.client.get(f"{BASE}/builds/{build['id']}").status_code == 404
    from tests.settled import settle

    settle(k.client)  # the deletion's jobs remove the staging folder
    assert not staged.exists()


def test_an_object_told_held_is_kept_even_if_unreferenced_until_grace(
    k: Keeper,
) -> None:
    """Registration claims what it says is held: an unreferenced object
    that a new registration reuses is never collected under it."""
    first = publish(k.client, BASE, k.auth(), docs(2, "a"))
    second = publish(k.client, BASE, k.auth(), docs(2, "b"))
    k.client.patch(
        f"{BASE}/editions/__main", headers=k.auth(), json={"build": second["id"]}
    )
    assert k.client.delete(f"{BASE}/builds/{first['id']}", headers=k.auth())
    age(k, 2 * runtime(k).settings.gc_grace_seconds)
    # A registration of "a" again: its pages are held (unreferenced, old).
    again = register(k.client, BASE, k.auth(), docs(2, "a"))
    assert again["uploads"] == []
    found = gc.collect_product(engine(k), runtime(k), 1)
    assert found is not None and found.objects == 0
    response = confirm(k.client, BASE, k.auth(), again["id"])
    assert response.json()["status"] == "complete", response.text
    with Session(engine(k)) as session:
        rows = session.exec(select(StoredObject).where(col(StoredObject.size) > 0))
        assert {r.sha256 for r in rows} >= {
            sha(f"<p>page {i} of a</p>".encode()) for i in range(2)
        }


def test_urls_can_be_signed_in_batches_while_sending(k: Keeper) -> None:
    """``first_urls``: the registration signs that many URLs and names the
    rest, whose URLs the client asks for while it sends the first."""
    files = docs(6)
    response = k.client.post(
        f"{BASE}/builds",
        headers=k.auth(),
        json={"git_ref": "main", "manifest": manifest_of(files), "first_urls": 2},
    )
    assert response.status_code == 201, response.text
    build = response.json()
    assert len(build["uploads"]) == 2
    later = build["more_uploads"]
    assert sorted([u["path"] for u in build["uploads"]] + later) == sorted(files)
    renewed = k.client.post(
        f"{BASE}/builds/{build['id']}/uploads", headers=k.auth(), json={"paths": later}
    )
    assert renewed.status_code == 200, renewed.text
    upload(k.client, {"uploads": build["uploads"] + renewed.json()}, files)
    done = confirm(k.client, BASE, k.auth(), build["id"])
    assert done.json()["status"] == "complete", done.text


def test_first_urls_is_bounded(k: Keeper) -> None:
    response = k.client.post(
        f"{BASE}/builds",
        headers=k.auth(),
        json={"git_ref": "main", "manifest": manifest_of(docs(1)), "first_urls": 0},
    )
    assert response.status_code == 422, response.text


def test_files_said_sent_are_placed_before_the_build_is_confirmed(
    k: Keeper,
) -> None:
    files = docs(4)
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)
    sent = ["p0.html", "p1.html"]
    response = k.client.post(
        f"{BASE}/builds/{build['id']}/sent", headers=k.auth(), json={"paths": sent}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2}
    # Placed by the job, before any confirmation.
    assert {sha(files[p]) for p in sent} <= set(stored_objects(k))
    assert sha(files["p2.html"]) not in stored_objects(k)
    assert k.client.get(f"{BASE}/builds/{build['id']}").json()["status"] == "pending"
    done = confirm(k.client, BASE, k.auth(), build["id"])
    assert done.json()["status"] == "complete", done.text
    host = {"Host": "pipelines.lsst.io"}
    assert k.client.get("/p1.html", headers=host).content == files["p1.html"]


def test_saying_sent_is_refused_for_other_files_and_other_states(
    k: Keeper,
) -> None:
    files = docs(2)
    build = register(k.client, BASE, k.auth(), files)
    url = f"{BASE}/builds/{build['id']}/sent"
    unknown = k.client.post(url, headers=k.auth(), json={"paths": ["nope.html"]})
    assert unknown.status_code == 422, unknown.text
    upload(k.client, build, files)
    confirm(k.client, BASE, k.auth(), build["id"])
    late = k.client.post(url, headers=k.auth(), json={"paths": ["p0.html"]})
    assert late.status_code == 409, late.text


def test_keeper_gc_says_what_would_go_then_removes_it(k: Keeper) -> None:
    kept = publish(k.client, BASE, k.auth(), docs(2, "kept"))
    gone = publish(k.client, BASE, k.auth(), docs(2, "gone"))
    k.client.patch(
        f"{BASE}/editions/__main", headers=k.auth(), json={"build": kept["id"]}
    )
    assert k.client.delete(f"{BASE}/builds/{gone['id']}", headers=k.auth())
    age(k, 2 * runtime(k).settings.gc_grace_seconds)
    before = set(stored_objects(k))

    dry = keeper_cli(k, "gc", "--dry-run", "--org", "lsst")
    assert dry.exit_code == 0, dry.output
    assert "would remove 0 abandoned build(s) and 2 unreferenced object(s)" in (
        dry.output
    )
    assert set(stored_objects(k)) == before

    done = keeper_cli(k, "gc")
    assert done.exit_code == 0, done.output
    assert "removed 0 abandoned build(s) and 2 unreferenced object(s)" in done.output
    assert set(stored_objects(k)) == before - {
        sha(f"<p>page {i} of gone</p>".encode()) for i in range(2)
    }
    unknown = keeper_cli(k, "gc", "--org", "nope")
    assert unknown.exit_code != 0 and "nope" in unknown.output
