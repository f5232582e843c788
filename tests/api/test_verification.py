"""Verification and reuse on S3 over moto's real HTTP server: keeper hashes
every upload before it places it as an object, so any client may reuse
what any other sent."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keeper.app import create_app
from tests.conftest import Keeper, make_settings
from tests.publishing import (
    Files,
    confirm,
    failed_with,
    manifest_of,
    register_manifest,
    site,
    with_md5,
)
from tests.servers import S3Endpoint
from tests.settled import SettledClient

BASE = "/api/orgs/lsst/products/pipelines"
pytestmark = pytest.mark.s3server


@pytest.fixture
def s3_keeper(
    moto_s3: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Keeper]:
    bucket = moto_s3.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.secret_key)
    url = f"s3://{bucket}/sites?endpoint_url={moto_s3.endpoint_url}&region=us-east-1"
    settings = make_settings(f"sqlite:///{tmp_path / 'k.sqlite3'}", url, tmp_path)
    with SettledClient(create_app(settings)) as client:
        keeper = Keeper(client, settings)
        h = keeper.auth()
        client.post("/api/orgs", headers=h, json={"slug": "lsst", "title": "L"})
        client.post(
            "/api/orgs/lsst/products",
            headers=h,
            json={"slug": "pipelines", "title": "P"},
        )
        yield keeper


def register(k: Keeper, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    return register_manifest(k.client, BASE, k.auth(), manifest)


def send(build: dict[str, Any], files: Files) -> None:
    with httpx.Client() as http:
        for item in build["uploads"]:
            r = http.request(
                item["method"],
                item["url"],
                headers=item["headers"],
                content=files[item["path"]],
            )
            assert r.status_code == 200, r.text


def test_upload_urls_sign_the_md5_the_client_declared(s3_keeper: Keeper) -> None:
    files = site("signed")
    build = register(s3_keeper, with_md5(files))
    for item in build["uploads"]:
        assert "content-md5" in item["url"]  # in X-Amz-SignedHeaders
        expected = hashlib.md5(files[item["path"]]).digest()
        assert item["headers"]["Content-MD5"] == base64.b64encode(expected).decode()


def test_a_file_whose_bytes_differ_fails_the_sha256_check(s3_keeper: Keeper) -> None:
    files = site("v1")
    build = register(s3_keeper, manifest_of(files))
    # Same size, other bytes: moto stores it (it checks no digest); keeper
    # hashes every upload before it places it.
    tampered = {**files, "index.html": files["index.html"].replace(b"v1", b"XX")}
    send(build, tampered)
    r = confirm(s3_keeper.client, BASE, s3_keeper.auth(), build["id"])
    assert "index.html (sha256 differs)" in failed_with(r)


def test_hashed_files_are_reused_by_any_client(s3_keeper: Keeper) -> None:
    files = site("v1")
    first = register(s3_keeper, manifest_of(files))  # no MD5: keeper hashes
    send(first, files)
    assert (
        confirm(s3_keeper.client, BASE, s3_keeper.auth(), first["id"]).status_code
        == 200
    )
    second = register(
        s3_keeper, [{**e, "path": "b/" + e["path"]} for e in with_md5(files)]
    )
    assert second["reused"] == len(files)
