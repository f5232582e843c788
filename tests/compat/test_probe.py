"""The check that an S3 server really takes presigned POSTs."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from keeper.app import create_app
from keeper.services.compat import probe
from keeper.services.compat.probe import (
    PresignedPostUnsupported,
    ensure_presigned_post_works,
)
from tests.compat import ltd1
from tests.compat.conftest import make_org, make_token
from tests.conftest import Keeper, make_settings
from tests.servers import S3Endpoint
from tests.settled import SettledClient
from tests.storage.conftest import fresh_s3_store

pytestmark = pytest.mark.s3server


def test_moto_passes_and_the_probe_leaves_nothing(moto_s3: S3Endpoint) -> None:
    store = fresh_s3_store(moto_s3)

    ensure_presigned_post_works(store)

    assert list(store.list()) == []


def test_a_store_is_probed_once(
    moto_s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fresh_s3_store(moto_s3)
    posts: list[str] = []
    real_post = httpx.post

    def counting_post(url: str, **kwargs: object) -> httpx.Response:
        posts.append(url)
        return real_post(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(probe.httpx, "post", counting_post)

    ensure_presigned_post_works(store)
    ensure_presigned_post_works(store)

    assert len(posts) == 1


def test_rclone_fails_with_what_to_do(rclone_s3: S3Endpoint) -> None:
    store = fresh_s3_store(rclone_s3)

    with pytest.raises(PresignedPostUnsupported) as refused:
        ensure_presigned_post_works(store)

    message = refused.value.msg
    assert "HTTP 400 UnsupportedAlgorithm" in message
    assert "presigned_post=false" in message
    assert list(store.list()) == []


def s3_keeper(
    endpoint: S3Endpoint,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    options: str = "",
) -> TestClient:
    bucket = fresh_s3_store(endpoint).bucket
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
    url = (
        f"s3://{bucket}/sites?endpoint_url={endpoint.endpoint_url}"
        f"&region=us-east-1{options}"
    )
    return SettledClient(create_app(make_settings(database_url, url, tmp_path)))


def test_registering_on_a_refusing_store_fails_before_any_build(
    rclone_s3: S3Endpoint,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with s3_keeper(rclone_s3, database_url, tmp_path, monkeypatch) as client:
        keeper = Keeper(client, client.app.state.runtime.settings)  # type: ignore[attr-defined]
        make_org(keeper, "lsst", "pipelines")
        uploader = make_token(keeper, "lsst", "uploader", "ci")

        response = client.post(
            "/products/pipelines/builds/",
            headers=ltd1.basic(uploader),
            json={"git_refs": ["main"]},
        )
        builds = client.get("/api/orgs/lsst/products/pipelines/builds").json()

    assert response.status_code == 501
    assert "presigned_post=false" in response.json()["detail"][0]["msg"]
    assert builds == []


def test_rclone_told_so_publishes_through_keeper(
    rclone_s3: S3Endpoint,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = "&presigned_post=false"
    with s3_keeper(
        rclone_s3, database_url, tmp_path, monkeypatch, options=options
    ) as client:
        keeper = Keeper(client, client.app.state.runtime.settings)  # type: ignore[attr-defined]
        make_org(keeper, "lsst", "pipelines")
        uploader = make_token(keeper, "lsst", "uploader", "ci")
        files = {"index.html": b"<h1>r</h1>", f"{uuid.uuid4().hex}/a.css": b"a{}"}

        confirmed = ltd1.publish(client, uploader, files)
        main = client.get("/api/orgs/lsst/products/pipelines/editions/__main")

    assert confirmed["status"] == "complete"
    assert main.json()["build_id"] == confirmed["slug"]
