"""Stores from configuration URLs, and stores scoped under a prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from keeper.storage import (
    FilesystemStore,
    InvalidKey,
    ObjectNotFound,
    PrefixedStore,
    S3Store,
    StorageError,
    child,
    store_from_url,
)
from tests.servers import S3Endpoint

from .conftest import fresh_s3_store, s3_client

# -- filesystem URLs ---------------------------------------------------------------


def test_absolute_file_url(tmp_path: Path) -> None:
    store = store_from_url(f"file://{tmp_path}/objects")

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "objects").resolve()
    assert store.root.is_dir()


def test_relative_file_url_resolves_against_base_dir(tmp_path: Path) -> None:
    store = store_from_url("file://data/objects", base_dir=tmp_path)

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "data" / "objects").resolve()
    assert store.root.is_dir()


def test_plain_relative_path_resolves_against_base_dir(tmp_path: Path) -> None:
    store = store_from_url("objects", base_dir=tmp_path)

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "objects").resolve()


def test_plain_relative_path_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = store_from_url("./objects")

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "objects").resolve()


def test_plain_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    store = store_from_url(str(tmp_path / "abs"), base_dir=tmp_path / "elsewhere")

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "abs").resolve()


def test_file_url_is_percent_decoded(tmp_path: Path) -> None:
    store = store_from_url("file://my%20docs", base_dir=tmp_path)

    assert isinstance(store, FilesystemStore)
    assert store.root == (tmp_path / "my docs").resolve()


def test_a_file_url_store_works(tmp_path: Path) -> None:
    store = store_from_url("file://objects", base_dir=tmp_path)
    store.put("a/b.html", b"x")

    assert (tmp_path / "objects" / "a" / "b.html").read_bytes() == b"x"


# -- S3 URLs -----------------------------------------------------------------------


def test_s3_url_with_options() -> None:
    store = store_from_url(
        "s3://docs-bucket/org/sub?endpoint_url=http://127.0.0.1:9000"
        "&region=eu-west-1&addressing_style=virtual"
    )

    assert isinstance(store, S3Store)
    assert store.bucket == "docs-bucket"
    assert store.prefix == "org/sub"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert store.client.meta.region_name == "eu-west-1"
    assert store.client.meta.config.s3 == {"addressing_style": "virtual"}


def test_s3_url_without_prefix_or_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    store = store_from_url("s3://docs-bucket")

    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("docs-bucket", "")
    assert store.client.meta.region_name == "us-west-2"


@pytest.mark.s3server
def test_s3_url_takes_credentials_from_the_environment(
    rclone_s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rclone checks signatures (moto does not), so this proves which
    # credentials were used.
    bucket = fresh_s3_store(rclone_s3).bucket
    url = f"s3://{bucket}/org?endpoint_url={rclone_s3.endpoint_url}&region=us-east-1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rclone_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rclone_s3.secret_key)

    store = store_from_url(url)
    store.put("a.html", b"signed")

    assert store.get("a.html") == b"signed"
    raw = s3_client(rclone_s3).get_object(Bucket=bucket, Key="org/a.html")
    assert raw["Body"].read() == b"signed"

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(StorageError, match="SignatureDoesNotMatch|AccessDenied"):
        store_from_url(url).get("a.html")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket/prefix", "unsupported object store URL"),
        ("http://example.org/objects", "unsupported object store URL"),
        ("s3:///prefix-without-bucket", "no bucket"),
        ("s3://bucket?endpoint=http://x", "unknown S3 store option"),
        ("s3://bucket?addressing_style=sideways", "addressing_style"),
        ("file://", "no path"),
        ("file:///tmp/x?mode=fast", "no query"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store_from_url(url)


def test_s3_prefix_must_be_a_safe_key() -> None:
    with pytest.raises(InvalidKey):
        store_from_url("s3://bucket/a/../b")


# -- child stores ------------------------------------------------------------------


@pytest.fixture
def parent(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "objects")


def test_children_are_isolated_from_each_other(parent: FilesystemStore) -> None:
    org1, org10 = child(parent, "org1"), child(parent, "org10")
    org1.put("page.html", b"one")
    org10.put("page.html", b"ten")

    assert org1.get("page.html") == b"one"
    assert [i.key for i in org1.list()] == ["page.html"]
    assert org1.delete_prefix("") == 1
    assert org10.get("page.html") == b"ten"
    assert [i.key for i in parent.list()] == ["org10/page.html"]


def test_child_reports_keys_without_its_prefix(parent: FilesystemStore) -> None:
    org = child(parent, "org/")
    org.put("p/index.html", b"x")

    info = org.stat("p/index.html")

    assert info is not None and info.key == "p/index.html"
    with pytest.raises(ObjectNotFound) as caught:
        org.get("p/missing.html")
    assert caught.value.key == "p/missing.html"


def test_nested_children_fold_into_one_prefix(parent: FilesystemStore) -> None:
    nested = child(child(parent, "org"), "product")

    assert isinstance(nested, PrefixedStore)
    assert nested.store is parent
    assert nested.prefix == "org/product"
    nested.put("a.html", b"x")
    assert parent.get("org/product/a.html") == b"x"


@pytest.mark.parametrize("key", ["../escape.html", "/abs", "a//b", "..", "a\\b"])
def test_child_keys_cannot_climb_out(parent: FilesystemStore, key: str) -> None:
    parent.put("other/secret.html", b"secret")
    org = child(parent, "org")

    with pytest.raises(InvalidKey):
        org.put(key, b"x")
    with pytest.raises(InvalidKey):
        org.get(key)
    assert [i.key for i in parent.list()] == ["other/secret.html"]


@pytest.mark.parametrize("prefix", ["", "/", "../up", "a//b", "a/./b"])
def test_child_prefix_must_be_a_safe_key(parent: FilesystemStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        child(parent, prefix)
    with pytest.raises(InvalidKey):
        child(child(parent, "org"), prefix)


def test_child_follows_presign_support(parent: FilesystemStore, tmp_path: Path) -> None:
    fs_child = child(parent, "org")

    assert fs_child.supports_presigned_put is False
    with pytest.raises(NotImplementedError):
        fs_child.presign_put("a.html", content_type="text/html", expires_in=60)


@pytest.mark.s3server
def test_child_of_s3_presigns_under_both_prefixes(moto_s3: S3Endpoint) -> None:
    s3 = fresh_s3_store(moto_s3, prefix="root")
    org = child(s3, "org")

    target = org.presign_put("a.html", content_type="text/html", expires_in=60)

    assert org.supports_presigned_put is True
    assert f"/{s3.bucket}/root/org/a.html?" in target.url
