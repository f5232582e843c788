"""Publishing builds through the API: uploads, reuse, verification, tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Keeper
from tests.publishing import (
    confirm,
    failed_with,
    manifest_of,
    publish,
    register,
    site,
    upload,
)

BASE = "/api/orgs/lsst/products/pipelines"


def editions(k: Keeper) -> dict[str, dict[str, Any]]:
    r = k.client.get(f"{BASE}/editions", params={"limit": 100})
    assert r.status_code == 200
    return {e["slug"]: e for e in r.json()}


def test_main_build_publishes_to_main_edition(product: Keeper) -> None:
    build = publish(product.client, BASE, product.auth(), site("one"))
    assert build["status"] == "complete"
    assert build["editions"] == ["__main"]
    main = editions(product)["__main"]
    assert main["build_id"] == build["id"]
    assert main["published_url"] == "https://pipelines.lsst.io/"


def test_identical_second_build_asks_for_no_upload(product: Keeper) -> None:
    files = site("same")
    first = publish(product.client, BASE, product.auth(), files)
    second = register(product.client, BASE, product.auth(), files)
    assert second["uploads"] == []
    assert second["reused"] == len(files)
    done = confirm(product.client, BASE, product.auth(), second["id"])
    assert done.status_code == 200, done.text
    assert editions(product)["__main"]["build_id"] == second["id"] != first["id"]


def test_only_changed_files_are_asked_for(product: Keeper) -> None:
    publish(product.client, BASE, product.auth(), site("v1"))
    changed = site("v1") | {"page1.html": b"<p>edited</p>"}
    build = register(product.client, BASE, product.auth(), changed)
    assert [u["path"] for u in build["uploads"]] == ["page1.html"]
    upload(product.client, build, changed)
    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200


def test_missing_or_corrupt_files_fail_the_build_and_leave_editions(
    product: Keeper,
) -> None:
    good = publish(product.client, BASE, product.auth(), site("good"))
    files = site("bad")
    build = register(product.client, BASE, product.auth(), files)
    for item in build["uploads"]:
        if item["path"] == "page0.html":
            continue  # never sent
        data = files[item["path"]]
        if item["path"] == "page1.html":
            data = data.upper()  # same size, other bytes
        r = product.client.request(
            item["method"], item["url"], headers=item["headers"], content=data
        )
        # Keeper's upload URL takes only the declared bytes: nothing stored.
        expected = 400 if item["path"] == "page1.html" else 204
        assert r.status_code == expected, r.text
    msg = failed_with(confirm(product.client, BASE, product.auth(), build["id"]))
    assert "page0.html (missing)" in msg and "page1.html (missing)" in msg
    assert editions(product)["__main"]["build_id"] == good["id"]

    # Sending the right bytes and confirming again completes the same build.
    upload(product.client, build, files)
    r = confirm(product.client, BASE, product.auth(), build["id"])
    assert r.status_code == 200, r.text
    assert editions(product)["__main"]["build_id"] == build["id"]


def test_confirming_twice_is_harmless(product: Keeper) -> None:
    build = publish(product.client, BASE, product.auth(), site("x"))
    again = confirm(product.client, BASE, product.auth(), build["id"])
    assert again.status_code == 200 and again.json()["status"] == "complete"
    history = product.client.get(f"{BASE}/editions/__main/history").json()
    assert len(history) == 1


def test_upload_larger_than_declared_is_refused(product: Keeper) -> None:
    files = {"index.html": b"<p>hi</p>"}
    build = register(product.client, BASE, product.auth(), files)
    item = build["uploads"][0]
    r = product.client.put(item["url"], content=b"x" * 100, headers=item["headers"])
    assert r.status_code == 413
    r = product.client.put(item["url"] + "tampered", content=files["index.html"])
    assert r.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../up.html",
        "a/../../b.html",
        "a\\b.html",
        "a\x00b.html",
        "a//b.html",
        "./a.html",
        "",
    ],
)
def test_unsafe_manifest_paths_are_refused(product: Keeper, path: str) -> None:
    manifest = manifest_of({"index.html": b"x"})
    manifest[0]["path"] = path
    r = product.client.post(
        f"{BASE}/builds",
        headers=product.auth(),
        json={"git_ref": "main", "manifest": manifest},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"]


def test_repeated_manifest_paths_are_refused(product: Keeper) -> None:
    manifest = manifest_of({"index.html": b"x"}) * 2
    r = product.client.post(
        f"{BASE}/builds",
        headers=product.auth(),
        json={"git_ref": "main", "manifest": manifest},
    )
    assert r.status_code == 422
    assert "index.html" in r.json()["detail"][0]["msg"]


def test_branch_builds_get_draft_editions(product: Keeper) -> None:
    publish(product.client, BASE, product.auth(), site("main"))
    draft = publish(
        product.client, BASE, product.auth(), site("t"), git_ref="tickets/DM-123"
    )
    assert draft["editions"] == ["DM-123"]
    eds = editions(product)
    assert eds["DM-123"]["kind"] == "draft"
    assert eds["DM-123"]["tracking_params"] == {"git_ref": "tickets/DM-123"}
    assert eds["DM-123"]["published_url"] == "https://pipelines.lsst.io/v/DM-123/"
    assert eds["__main"]["build_id"] != draft["id"]


def test_release_tags_create_and_move_version_editions(product: Keeper) -> None:
    h = product.auth()
    r = product.client.post(
        f"{BASE}/editions",
        headers=h,
        json={"slug": "stable", "kind": "release", "tracking_mode": "semver_release"},
    )
    assert r.status_code == 201, r.text
    v2_10 = publish(product.client, BASE, h, site("2.10"), git_ref="v2.10.0")
    publish(product.client, BASE, h, site("2.9"), git_ref="v2.9.3")
    eds = editions(product)
    assert eds["stable"]["build_id"] == v2_10["id"]  # 2.10 > 2.9, not as strings
    assert eds["2"]["tracking_mode"] == "semver_major"
    assert eds["2"]["build_id"] == v2_10["id"]
    assert eds["2.10"]["build_id"] == v2_10["id"]
    assert eds["2.9"]["kind"] == "minor"
    assert eds["__main"]["build_id"] is None


def test_new_edition_starts_on_the_build_its_rule_prefers(product: Keeper) -> None:
    h = product.auth()
    publish(product.client, BASE, h, site("a"), git_ref="v1.0.0")
    best = publish(product.client, BASE, h, site("b"), git_ref="v1.2.0")
    publish(product.client, BASE, h, site("c"), git_ref="v1.1.0")
    r = product.client.post(
        f"{BASE}/editions",
        headers=h,
        json={"slug": "latest", "kind": "release", "tracking_mode": "semver_release"},
    )
    assert r.status_code == 201
    assert r.json()["build_id"] == best["id"]


def test_rerun_of_an_interrupted_upload_resumes_the_same_build(
    product: Keeper,
) -> None:
    files = site("resume", pages=6)
    first = register(product.client, BASE, product.auth(), files)
    landed = sorted(files)[:3]
    upload(
        product.client,
        {"uploads": [u for u in first["uploads"] if u["path"] in landed]},
        files,
    )
    again = register(product.client, BASE, product.auth(), files)
    assert again["id"] == first["id"]
    assert again["resumed"] is True
    assert sorted(u["path"] for u in again["uploads"]) == sorted(
        set(files) - set(landed)
    )
    assert editions(product)["__main"]["build_id"] is None
    upload(product.client, again, files)
    done = confirm(product.client, BASE, product.auth(), again["id"])
    assert done.status_code == 200, done.text
    assert editions(product)["__main"]["build_id"] == first["id"]


def test_a_different_ref_or_manifest_is_a_new_build(product: Keeper) -> None:
    files = site("one")
    first = register(product.client, BASE, product.auth(), files)
    other_ref = register(product.client, BASE, product.auth(), files, git_ref="dev")
    changed = register(product.client, BASE, product.auth(), {**files, "x.txt": b"x"})
    assert len({first["id"], other_ref["id"], changed["id"]}) == 3
    assert not other_ref["resumed"] and not changed["resumed"]


def test_a_complete_build_is_never_resumed(product: Keeper) -> None:
    files = site("done")
    first = publish(product.client, BASE, product.auth(), files)
    second = register(product.client, BASE, product.auth(), files)
    assert second["id"] != first["id"]
    assert second["resumed"] is False
    assert second["reused"] == len(files)


def test_a_truncated_object_is_asked_for_again_on_resume(product: Keeper) -> None:
    files = site("short")
    first = register(product.client, BASE, product.auth(), files)
    target = next(u for u in first["uploads"] if u["path"] == "index.html")
    # Keeper's own URL refuses a short body; a store that does not check
    # what it signed (moto) keeps it, as this does.
    refused = product.client.put(target["url"], content=b"<h1>")
    assert refused.status_code == 400
    storage = Path(product.settings.storage_url.removeprefix("file://"))
    staged = storage / "lsst" / "pipelines" / "_staging" / first["id"]
    staged.mkdir(parents=True)
    (staged / "index.html").write_bytes(b"<h1>")
    again = register(product.client, BASE, product.auth(), files)
    assert "index.html" in {u["path"] for u in again["uploads"]}


def test_fresh_upload_urls_for_a_pending_build(product: Keeper) -> None:
    files = site("renew")
    build = register(product.client, BASE, product.auth(), files)
    r = product.client.post(
        f"{BASE}/builds/{build['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["index.html", "page0.html"]},
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert [u["path"] for u in fresh] == ["index.html", "page0.html"]
    upload(product.client, {"uploads": fresh}, files)
    rest = [
        u for u in build["uploads"] if u["path"] not in ("index.html", "page0.html")
    ]
    upload(product.client, {"uploads": rest}, files)
    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200


def test_fresh_upload_urls_refuse_unknown_paths_and_finished_builds(
    product: Keeper,
) -> None:
    files = site("renew")
    pending = register(product.client, BASE, product.auth(), files)
    r = product.client.post(
        f"{BASE}/builds/{pending['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["nope.html"]},
    )
    assert r.status_code == 422
    assert "nope.html" in r.text
    done = publish(product.client, BASE, product.auth(), site("other"))
    r = product.client.post(
        f"{BASE}/builds/{done['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["index.html"]},
    )
    assert r.status_code == 409
    r = product.client.post(
        f"{BASE}/builds/{pending['id']}/uploads", json={"paths": ["index.html"]}
    )
    assert r.status_code == 401


def test_a_failed_verification_marks_no_file_verified(product: Keeper) -> None:
    from sqlmodel import Session, select

    from keeper.db import BuildFile
    from keeper.db.engine import make_engine

    files = site("partly", pages=4)
    build = register(product.client, BASE, product.auth(), files)
    upload(
        product.client,
        {"uploads": [u for u in build["uploads"] if u["path"] != "page0.html"]},
        files,
    )
    failed_with(confirm(product.client, BASE, product.auth(), build["id"]))
    engine = make_engine(product.settings.database_url)
    with Session(engine) as session:
        flags = session.exec(select(BuildFile.sha256_verified)).all()
    engine.dispose()
    # Hashes taken before the failure must not count once files are resent.
    assert flags and not any(flags)
    upload(product.client, build, files)
    assert confirm(product.client, BASE, product.auth(), build["id"]).status_code == 200
    with Session(make_engine(product.settings.database_url)) as session:
        assert all(session.exec(select(BuildFile.sha256_verified)).all())


def test_a_255_character_branch_gets_a_draft_edition(product: Keeper) -> None:
    """Its slug would be longer than an edition's (PostgreSQL refused the
    row: 500); it is shortened, and stays that branch's."""
    ref = "feature/" + "x" * 247
    build = publish(product.client, BASE, product.auth(), site("long"), ref)
    assert build["status"] == "complete"
    editions = product.client.get(f"{BASE}/editions").json()
    (draft,) = [e for e in editions if e["tracking_params"].get("git_ref") == ref]
    assert len(draft["slug"]) <= 100
    assert draft["build_id"] == build["id"]
