"""Behaviour only the S3 backend has: prefixes in a bucket, errors, batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from keeper.storage import ObjectNotFound, S3Store, StorageError
from keeper.storage import s3 as s3_module
from tests.servers import S3Endpoint, free_port

from .conftest import fresh_s3_store, s3_client

pytestmark = pytest.mark.s3server


@pytest.fixture
def s3(moto_s3: S3Endpoint) -> S3Store:
    return fresh_s3_store(moto_s3, prefix="org/product")


def raw_keys(store: S3Store) -> list[str]:
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_keys_live_under_the_store_prefix(s3: S3Store) -> None:
    s3.put("builds/1/index.html", b"x")

    assert raw_keys(s3) == ["org/product/builds/1/index.html"]
    assert [i.key for i in s3.list()] == ["builds/1/index.html"]


def test_listing_does_not_leak_a_neighbouring_prefix(moto_s3: S3Endpoint) -> None:
    store = fresh_s3_store(moto_s3, prefix="org")
    neighbour = S3Store(store.bucket, "org2", client=store.client)
    neighbour.put("page.html", b"not yours")
    store.put("page.html", b"mine")

    assert [i.key for i in store.list()] == ["page.html"]
    assert store.delete_prefix("") == 1
    assert neighbour.get("page.html") == b"not yours"


def test_a_store_without_prefix_uses_bare_keys(moto_s3: S3Endpoint) -> None:
    store = fresh_s3_store(moto_s3, prefix="")

    store.put("a/b.html", b"x")

    assert raw_keys(store) == ["a/b.html"]


def test_content_type_is_guessed_when_not_given(s3: S3Store) -> None:
    s3.put("style.css", b"body{}")
    s3.put("blob", b"\x00")

    css, blob = s3.stat("style.css"), s3.stat("blob")
    assert css is not None and css.content_type == "text/css"
    assert blob is not None and blob.content_type == "application/octet-stream"


def test_list_reports_etag_and_last_modified(s3: S3Store) -> None:
    s3.put("a.txt", b"hello")

    (info,) = s3.list()

    stat = s3.stat("a.txt")
    assert stat is not None
    assert info.etag == stat.etag == '"5d41402abc4b2a76b9719d911017c592"'
    assert info.last_modified is not None


def test_delete_prefix_works_in_batches(
    s3: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        s3.put(f"builds/1/{i}.html", b"x")
    calls: list[int] = []
    real = s3.client.delete_objects

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Delete"]["Objects"]))
        return real(**kwargs)

    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)
    monkeypatch.setattr(s3.client, "delete_objects", counting)

    assert s3.delete_prefix("builds/") == 5
    assert calls == [2, 2, 1]
    assert raw_keys(s3) == []


def test_delete_prefix_reports_objects_the_server_kept(
    s3: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("a.html", b"x")

    def refusing(**kwargs: Any) -> dict[str, Any]:
        return {
            "Errors": [{"Key": "org/product/a.html", "Code": "AccessDenied"}],
        }

    monkeypatch.setattr(s3.client, "delete_objects", refusing)

    with pytest.raises(StorageError, match="AccessDenied"):
        s3.delete_prefix("")


def test_a_missing_bucket_is_a_storage_error_not_a_missing_key(
    moto_s3: S3Endpoint,
) -> None:
    store = S3Store("no-such-bucket-here", client=s3_client(moto_s3))

    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        store.get("a.html")
    assert not isinstance(caught.value, ObjectNotFound)
    with pytest.raises(StorageError, match="NoSuchBucket"):
        store.put("a.html", b"x")


def test_create_bucket_if_missing_is_idempotent(moto_s3: S3Endpoint) -> None:
    store = fresh_s3_store(moto_s3)

    assert store.create_bucket_if_missing() is False
    store.put("a", b"x")
    assert store.create_bucket_if_missing() is False
    assert store.get("a") == b"x"


def test_an_unreachable_server_is_a_storage_error() -> None:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    store = S3Store("bucket", client=client)

    with pytest.raises(StorageError, match="cannot talk to S3"):
        store.get("a.html")
    with pytest.raises(StorageError):
        store.stat("a.html")


def test_the_default_client_is_tuned(moto_s3: S3Endpoint) -> None:
    store = S3Store(
        "bucket",
        endpoint_url=moto_s3.endpoint_url,
        region="eu-west-1",
        access_key="a",
        secret_key="b",
    )

    config = store.client.meta.config
    assert config.max_pool_connections == 32
    assert config.retries["mode"] == "standard"
    assert config.signature_version == "s3v4"
    # A custom endpoint gets path-style addressing unless told otherwise.
    assert config.s3 == {"addressing_style": "path"}
    assert store.client.meta.region_name == "eu-west-1"


def test_presigned_url_points_under_the_prefix(s3: S3Store) -> None:
    target = s3.presign_put("x/y.html", content_type="text/html", expires_in=60)

    assert f"/{s3.bucket}/org/product/x/y.html?" in target.url
    assert "X-Amz-Signature=" in target.url
    assert "X-Amz-Expires=60" in target.url


def test_rclone_checks_the_presigned_content_type(rclone_s3: S3Endpoint) -> None:
    """The signature covers Content-Type, so a client cannot change it.

    (moto does not verify signatures, so only rclone can show this.)
    """
    store = fresh_s3_store(rclone_s3)
    target = store.presign_put("a.html", content_type="text/html", expires_in=60)

    response = httpx.put(
        target.url, content=b"x", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 403
    assert store.stat("a.html") is None


def test_delete_prefix_removes_keys_no_store_api_would_write(
    moto_s3: S3Endpoint,
) -> None:
    """A presigned POST takes any key under its folder, "a/../b" included;
    such keys must not make the folder impossible to remove."""
    store = fresh_s3_store(moto_s3, prefix="tenant")
    raw = s3_client(moto_s3)
    odd = ["tenant/staged/a/../b.html", "tenant/staged//c.html", "tenant/staged/./d"]
    for key in odd:
        raw.put_object(Bucket=store.bucket, Key=key, Body=b"x")
    store.put("staged/ok.html", b"ok")

    removed = store.delete_prefix("staged/")

    assert removed == 4
    assert list(store.list("staged/")) == []


def test_presigning_without_credentials_is_a_storage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No credentials anywhere: a clear StorageError (502 at the API), not
    an AttributeError from deep inside botocore (500)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store("bucket", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StorageError, match="no AWS credentials"):
        store.presign_post("p/", expires_in=60)
    with pytest.raises(StorageError, match="no AWS credentials"):
        store.presign_put("p/x", content_type="text/plain", expires_in=60)
