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
from fastapi.testclient import TestClient

from keeper.app import create_app
from tests.conftest import Keeper, make_settings
from tests.objects import Walk, bucket_walk, under
from tests.publishing import Files, confirm, manifest_of
from tests.servers import S3Endpoint

pytestmark = pytest.mark.s3server

BASE = "/api/orgs/lsst/products/pipelines"
SITE: Files = {
    "index.html": b"<h1>published</h1>",
    "about.html": b"<p>about us</p>",
    "_static/style.css": b"body { color: black }",
}
SCRIPT = b"<script>x</script>"
assert len(SCRIPT) == len(SITE["index.html"])


class S3Keeper(Keeper):
    server: str
    walk: Walk


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def s3_keeper(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[S3Keeper]:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    bucket = endpoint.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
    url = f"s3://{bucket}/sites?endpoint_url={endpoint.endpoint_url}&region=us-east-1"
    settings = make_settings(database_url, url, tmp_path)
    with TestClient(create_app(settings)) as client:
        keeper = S3Keeper(client, settings)
        keeper.server = request.param.removesuffix("_s3")
        keeper.walk = bucket_walk(endpoint, bucket)
        h = keeper.auth()
        r = client.post(
            "/api/orgs",
            headers=h,
            json={"slug": "lsst", "title": "L", "base_domain": "lsst.io"},
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/api/orgs/lsst/products",
            headers=h,
            json={"slug": "pipelines", "title": "P"},
        )
        assert r.status_code == 201, r.text
        yield keeper


def with_md5(files: Files) -> list[dict[str, Any]]:
    """The manifest ``ltd upload`` sends: with each file's MD5."""
    return [
        {**entry, "md5": hashlib.md5(files[entry["path"]]).hexdigest()}
        for entry in manifest_of(files)
    ]


def register(k: Keeper, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    r = k.client.post(
        f"{BASE}/builds",
        headers=k.auth(),
        json={"git_ref": "main", "manifest": manifest},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


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


def built(build_id: str) -> str:
    return f"sites/lsst/pipelines/builds/{build_id}/"


def staged(build_id: str) -> str:
    return f"sites/lsst/pipelines/_staging/{build_id}/"


def served(k: Keeper, path: str) -> bytes:
    r = k.client.get(f"/{path}", headers={"Host": "pipelines.lsst.io"})
    assert r.status_code == 200, r.text
    return r.content


def item_of(build: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in build["uploads"] if u["path"] == path)
    return found


def test_urls_write_to_staging_and_confirmation_publishes(s3_keeper: S3Keeper) -> None:
    build = register(s3_keeper, with_md5(SITE))

    send(build, SITE)
    waiting = s3_keeper.walk()
    done = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])

    assert done.status_code == 200, done.text
    assert waiting == {staged(build["id"]) + p: data for p, data in SITE.items()}
    assert s3_keeper.walk() == {
        built(build["id"]) + p: data for p, data in SITE.items()
    }


def test_a_url_replayed_after_completion_changes_nothing_served_or_reused(
    s3_keeper: S3Keeper,
) -> None:
    first = publish(s3_keeper, SITE)
    before = s3_keeper.walk()

    replay = put(item_of(first, "index.html"), SCRIPT)

    # rclone checks the signed MD5; moto stores anything, but in staging.
    assert replay.status_code == (200 if s3_keeper.server == "moto" else 400)
    after = s3_keeper.walk()
    assert under(after, built(first["id"])) == under(before, built(first["id"]))
    assert served(s3_keeper, "index.html") == SITE["index.html"]

    # A later build reuses the published object, never the replayed one,
    # and its confirmation sweeps what the replay left in staging.
    second = publish(s3_keeper, {**SITE, "new.html": b"<p>new</p>"})
    assert [u["path"] for u in second["uploads"]] == ["new.html"]
    final = s3_keeper.walk()
    assert under(final, built(second["id"]))["index.html"] == SITE["index.html"]
    assert served(s3_keeper, "index.html") == SITE["index.html"]
    assert under(final, "sites/lsst/pipelines/_staging/") == {}


#: case -> (what is sent for index.html, with an MD5 in the manifest?, the
#: fault confirmation reports on moto, which stores whatever it is sent).
FAULTS = {
    "longer": (SITE["index.html"] + b"<script>", True, "size"),
    "shorter": (SITE["index.html"][:-2], True, "size"),
    "other-bytes": (SCRIPT, True, "md5 differs"),
    "other-bytes-no-md5": (SCRIPT, False, "sha256 differs"),
}


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_a_body_the_server_lets_through_fails_confirmation(
    s3_keeper: S3Keeper, case: str
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
    if s3_keeper.server == "rclone" and refused_by_rclone:
        assert response.status_code in (400, 403), response.text
        fault = "missing"
    else:
        assert response.status_code == 200, response.text
    assert done.status_code == 422, done.text
    assert f"index.html ({fault}" in done.json()["detail"][0]["msg"]
    main = s3_keeper.client.get(f"{BASE}/editions/__main").json()
    assert main["build_id"] is None


def test_published_objects_carry_the_manifests_type(s3_keeper: S3Keeper) -> None:
    """moto lets a client send another Content-Type than the one signed;
    the copy keeper publishes has the manifest's."""
    build = register(s3_keeper, with_md5(SITE))
    send(build, {p: d for p, d in SITE.items() if p != "index.html"})
    sent = put(
        item_of(build, "index.html"),
        SITE["index.html"],
        **{"Content-Type": "text/plain"},
    )
    if s3_keeper.server == "rclone":  # the type is signed: refused
        assert sent.status_code == 403
        sent = put(item_of(build, "index.html"), SITE["index.html"])
    assert sent.status_code == 200

    done = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])

    assert done.status_code == 200, done.text
    runtime = s3_keeper.client.app.state.runtime  # type: ignore[attr-defined]
    store = runtime.stores.default()
    info = store.stat(f"lsst/pipelines/builds/{build['id']}/index.html")
    assert info is not None and info.content_type == "text/html"


def test_files_without_md5_are_hashed_and_then_reused_by_anyone(
    s3_keeper: S3Keeper,
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
