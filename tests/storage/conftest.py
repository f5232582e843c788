"""Fixtures for the storage tests: real S3 servers and one store per backend."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import Any

import pytest

from keeper.storage import FilesystemStore, ObjectStore, S3Store, child
from keeper.storage.s3 import make_client
from tests.servers import S3Endpoint


@functools.cache
def s3_client(endpoint: S3Endpoint) -> Any:
    """One client per server: building a boto3 client costs ~0.2 s."""
    return make_client(
        endpoint_url=endpoint.endpoint_url,
        region="us-east-1",
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        addressing_style="path",
    )


def fresh_s3_store(endpoint: S3Endpoint, *, prefix: str = "tenant") -> S3Store:
    """An S3Store in a bucket no other test uses, under a non-empty prefix
    so that every test also exercises the prefix mapping."""
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    store = S3Store(bucket, prefix, client=s3_client(endpoint))
    assert store.create_bucket_if_missing()
    return store


def _child_with_neighbours(root: Path) -> ObjectStore:
    """A child store whose siblings would show up if the scoping leaked."""
    parent = FilesystemStore(root)
    for neighbour in ("org-other/page.html", "orgx"):
        parent.put(neighbour, b"not yours")
    return child(parent, "org")


BACKENDS = [
    pytest.param("filesystem", id="filesystem"),
    pytest.param("child", id="child-of-filesystem"),
    pytest.param("moto", id="s3-moto", marks=pytest.mark.s3server),
    pytest.param("rclone", id="s3-rclone", marks=pytest.mark.s3server),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """One empty store per backend; S3 servers start only when needed."""
    backend: str = request.param
    if backend == "filesystem":
        return FilesystemStore(tmp_path / "objects")
    if backend == "child":
        return _child_with_neighbours(tmp_path / "objects")
    endpoint: S3Endpoint = request.getfixturevalue(f"{backend}_s3")
    return fresh_s3_store(endpoint)
