"""A keeper with the org ``lsst`` and product ``pipelines`` on any store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keeper.app import create_app
from tests.conftest import Keeper, make_settings
from tests.objects import Objects, Walk, bucket_walk, build_in, folder_walk
from tests.publishing import (
    Files,
    confirm,
    create_lsst_pipelines,
    register,
    upload,
)
from tests.servers import S3Endpoint
from tests.settled import SettledClient

PRODUCT_API = "/api/orgs/lsst/products/pipelines"


@dataclass
class Stored(Keeper):
    """A keeper whose store can be read behind its back."""

    #: "filesystem", "moto" or "rclone".
    backend: str = "filesystem"
    #: Every object of the store, key -> bytes (generated pages aside).
    walk: Walk = dict
    #: Where the org's objects start among the walked keys.
    org_root: str = "lsst/"

    def built(self, build_id: str) -> str:
        return f"{self.org_root}pipelines/builds/{build_id}/"

    def staged(self, build_id: str) -> str:
        return f"{self.org_root}pipelines/_staging/{build_id}/"

    def contents(self, objects: Objects, build_id: str) -> Objects:
        """The build's files in a walk's result, through its manifest."""
        return build_in(objects, f"{self.org_root}pipelines", build_id)

    def placed(self, objects: Objects) -> Objects:
        """The product's content-addressed objects in a walk's result."""
        root = f"{self.org_root}pipelines/_objects/"
        return {k: v for k, v in objects.items() if k.startswith(root)}


@contextmanager
def keeper_on(
    backend: str,
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    options: str = "",
) -> Iterator[Stored]:
    """``backend``: "filesystem", "moto_s3" or "rclone_s3"; ``options`` are
    added to an S3 store's URL (``&direct_uploads=true``)."""
    if backend == "filesystem":
        root = tmp_path / "storage"
        url, walk, org_root = f"file://{root}", folder_walk(root), "lsst/"
    else:
        endpoint: S3Endpoint = request.getfixturevalue(backend)
        bucket = endpoint.new_bucket()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
        url = (
            f"s3://{bucket}/sites?endpoint_url={endpoint.endpoint_url}&region=us-east-1"
            + options
        )
        walk, org_root = bucket_walk(endpoint, bucket), "sites/lsst/"
    settings = make_settings(database_url, url, tmp_path)
    with SettledClient(create_app(settings)) as client:
        keeper = Stored(
            client,
            settings,
            backend=backend.removesuffix("_s3"),
            walk=walk,
            org_root=org_root,
        )
        h = keeper.auth()
        create_lsst_pipelines(client, h)
        yield keeper


@pytest.fixture(
    params=[
        "filesystem",
        pytest.param("moto_s3", marks=pytest.mark.s3server),
        pytest.param("rclone_s3", marks=pytest.mark.s3server),
    ]
)
def stored(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stored]:
    """The product on each store, each on SQLite and PostgreSQL."""
    with keeper_on(request.param, request, database_url, tmp_path, monkeypatch) as k:
        yield k


def publish_on(k: Keeper, files: Files) -> dict[str, Any]:
    """Register, upload and confirm ``files``: uploads go to wherever the
    URLs point (keeper itself, or an S3 server), as a client sends them."""
    build = register(k.client, PRODUCT_API, k.auth(), files)
    upload(k.client, build, files)
    done = confirm(k.client, PRODUCT_API, k.auth(), build["id"])
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body


def add_lsst_pipelines(keeper: Keeper) -> Keeper:
    """Org ``lsst`` (sites under ``lsst.io``) with product ``pipelines``."""
    h = keeper.auth()
    for url, body in (
        ("/api/orgs", {"slug": "lsst", "title": "LSST", "base_domain": "lsst.io"}),
        ("/api/orgs/lsst/products", {"slug": "pipelines", "title": "Pipelines"}),
    ):
        r = keeper.client.post(url, headers=h, json=body)
        assert r.status_code == 201, r.text
    return keeper


@pytest.fixture
def product(keeper: Keeper) -> Keeper:
    """The ``keeper`` fixture with org ``lsst`` and product ``pipelines``."""
    return add_lsst_pipelines(keeper)
