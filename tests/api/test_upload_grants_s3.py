"""S3 presigned PUTs, over real HTTP to moto and ``rclone serve s3``, on
SQLite and PostgreSQL: a URL holds the client to the declared file as far
as the server checks what it signed (tests/storage/test_presigned_put.py),
confirmation catches the rest, and a URL used after confirmation writes
only to staging: nothing served and nothing reused ever changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Stored, keeper_on
from tests.api.test_upload_grants import BASE, SCRIPT, SITE
from tests.conftest import Keeper
from tests.objects import under
from tests.publishing import (
    Files,
    confirm,
    failed_with,
    manifest_of,
    register_manifest,
    with_md5,
)

pytestmark = pytest.mark.s3server


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def s3_keeper(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stored]:
    with keeper_on(request.param, request, database_url, tmp_path, monkeypatch) as k:
        yield k


def register(k: Keeper, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    return register_manifest(k.client, BASE, k.auth(), manifest)


def put(item: dict[str, Any], body: bytes, **headers: str) -> httpx.Response:
    return httpx.request(
        item["method"],
        item["url"],
        headers={**item["headers"], **headers},
        content=body,
    )


def send(build: dict[str, Any], files: Files) -> None:
    """PUT every file of ``files`` that ``build`` asks for."""
    for item in build["uploads"]:
        if item["path"] not in files:
            continue
        r = put(item, files[item["path"]])
        assert r.status_code == 200, r.text


def publish(k: Keeper, files: Files) -> dict[str, Any]:
    build = register(k, with_md5(files))
    send(build, files)
    r = confirm(k.client, BASE, k.auth(), build["id"])
    assert r.status_code == 200, r.text
    return build


def served(k: Keeper, path: str) -> bytes:
    r = k.client.get(f"/{path}", headers={"Host": "pipelines.lsst.io"})
    assert r.status_code == 200, r.text
    return r.content


def item_of(build: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in build["uploads"] if u["path"] == path)
    return found


def test_urls_write_to_staging_and_confirmation_publishes(s3_keeper: Stored) -> None:
    build = register(s3_keeper, with_md5(SITE))

    send(build, SITE)
    waiting = s3_keeper.walk()
    done = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])

    assert done.status_code == 200, done.text
    assert waiting == {
        s3_keeper.staged(build["id"]) + p: data for p, data in SITE.items()
    }
    after = s3_keeper.walk()
    assert not [k for k in after if k.startswith(s3_keeper.staged(build["id"]))]
    assert s3_keeper.contents(after, build["id"]) == SITE
    assert sorted(s3_keeper.placed(after).values()) == sorted(SITE.values())


def test_a_url_replayed_after_completion_changes_nothing_served_or_reused(
    s3_keeper: Stored,
) -> None:
    first = publish(s3_keeper, SITE)
    before = s3_keeper.walk()

    replay = put(item_of(first, "index.html"), SCRIPT)

    # rclone checks the signed MD5; moto stores anything, but in staging.
    assert replay.status_code == (200 if s3_keeper.backend == "moto" else 400)
    after = s3_keeper.walk()
    assert s3_keeper.contents(after, first["id"]) == SITE
    assert s3_keeper.placed(after) == s3_keeper.placed(before)
    assert served(s3_keeper, "index.html") == SITE["index.html"]

    # A later build reuses the published object, never the replayed one,
    # and its confirmation sweeps what the replay left in staging.
    second = publish(s3_keeper, {**SITE, "new.html": b"<p>new</p>"})
    assert [u["path"] for u in second["uploads"]] == ["new.html"]
    final = s3_keeper.walk()
    assert s3_keeper.contents(final, second["id"])["index.html"] == SITE["index.html"]
    assert served(s3_keeper, "index.html") == SITE["index.html"]
    assert under(final, "sites/lsst/pipelines/_staging/") == {}


#: case -> (what is sent for index.html, with an MD5 in the manifest?, the
#: fault confirmation reports on moto, which stores whatever it is sent).
FAULTS = {
    "longer": (SITE["index.html"] + b"<script>", True, "size"),
    "shorter": (SITE["index.html"][:-2], True, "size"),
    "other-bytes": (SCRIPT, True, "sha256 differs"),
    "other-bytes-no-md5": (SCRIPT, False, "sha256 differs"),
}


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_a_body_the_server_lets_through_fails_confirmation(
    s3_keeper: Stored, case: str
) -> None:
    body, md5, fault = FAULTS[case]
    manifest = with_md5(SITE) if md5 else manifest_of(SITE)
    build = register(s3_keeper, manifest)
    send(build, {p: d for p, d in SITE.items() if p != "index.html"})

    response = put(item_of(build, "index.html"), body)
    done = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])

    # rclone refuses what it can check (everything but sha256 alone);
    # what either server lets through, confirmation refuses.
    refused_by_rclone = case != "other-bytes-no-md5"
    if s3_keeper.backend == "rclone" and refused_by_rclone:
        assert response.status_code in (400, 403), response.text
        fault = "missing"
    else:
        assert response.status_code == 200, response.text
    assert f"index.html ({fault}" in failed_with(done)
    main = s3_keeper.client.get(f"{BASE}/editions/__main").json()
    assert main["build_id"] is None


def test_published_objects_carry_the_manifests_type(s3_keeper: Stored) -> None:
    """moto lets a client send another Content-Type than the one signed;
    the copy keeper publishes has the manifest's."""
    build = register(s3_keeper, with_md5(SITE))
    send(build, {p: d for p, d in SITE.items() if p != "index.html"})
    sent = put(
        item_of(build, "index.html"),
        SITE["index.html"],
        **{"Content-Type": "text/plain"},
    )
    if s3_keeper.backend == "rclone":  # the type is signed: refused
        assert sent.status_code == 403
        sent = put(item_of(build, "index.html"), SITE["index.html"])
    assert sent.status_code == 200

    done = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])

    assert done.status_code == 200, done.text
    runtime = s3_keeper.client.app.state.runtime  # type: ignore[attr-defined]
    store = runtime.stores.default()
    digest = hashlib.sha256(SITE["index.html"]).hexdigest()
    info = store.stat(f"lsst/pipelines/_objects/{digest[:2]}/{digest}")
    assert info is not None and info.content_type == "text/html"


def test_files_without_md5_are_hashed_and_then_reused_by_anyone(
    s3_keeper: Stored,
) -> None:
    first = register(s3_keeper, manifest_of(SITE))
    send(first, SITE)
    assert (
        confirm(s3_keeper.client, BASE, s3_keeper.auth(), first["id"]).status_code
        == 200
    )

    second = register(s3_keeper, with_md5(SITE))

    assert second["reused"] == len(SITE)
    assert second["uploads"] == []
