"""Presigned form POSTs (S3's POST Object), over real HTTP.

Every store either presigns form uploads or says it cannot; then keeper
signs its own (tests/compat/test_form_uploads.py). Findings per backend:

- moto takes presigned POSTs, ``${filename}`` included, but checks neither
  the signature nor the policy; the policy itself is tested here, and AWS
  enforces it.
- ``rclone serve s3`` cannot take them: with credentials it answers 400
  UnsupportedAlgorithm (its SigV4 check knows only header and query
  signatures); without, it stores the key literally as ``${filename}``
  and answers 200 instead of 204. Its stores are configured with
  ``presigned_post=false``, and keeper's compat probe refuses one that is
  not (tests/compat/test_probe.py).
"""

from __future__ import annotations

import base64
import calendar
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from keeper.storage import (
    FilesystemStore,
    InvalidKey,
    ObjectStore,
    PostTarget,
    S3Store,
    child,
    store_from_url,
)
from tests.servers import S3Endpoint

from .conftest import fresh_s3_store


def post(
    target: PostTarget, name: str, data: bytes, content_type: str = "text/html"
) -> httpx.Response:
    """A file upload as ltd-conveyor 0.8 sends it."""
    return httpx.post(
        target.url,
        data={**target.fields, "Content-Type": content_type},
        files={"file": (name, data)},
    )


def policy(target: PostTarget) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(target.fields["policy"]))
    return decoded


# -- stores that presign ----------------------------------------------------------


@pytest.fixture(params=["s3", "child-of-s3"])
def presigning(request: pytest.FixtureRequest, moto_s3: S3Endpoint) -> ObjectStore:
    store = fresh_s3_store(moto_s3)
    return store if request.param == "s3" else child(store, "org")


@pytest.mark.s3server
def test_a_posted_file_lands_in_the_folder_under_its_name(
    presigning: ObjectStore,
) -> None:
    target = presigning.presign_post("builds/b1/api/", expires_in=600)

    response = post(target, "index.html", b"<h1>api</h1>")

    assert response.status_code == 204, response.text
    assert presigning.get("builds/b1/api/index.html") == b"<h1>api</h1>"
    info = presigning.stat("builds/b1/api/index.html")
    assert info is not None and info.content_type == "text/html"


@pytest.mark.s3server
def test_one_target_takes_every_file_of_its_folder(presigning: ObjectStore) -> None:
    target = presigning.presign_post("builds/b1/", expires_in=600)

    for name in ("a.html", "b.css", "empty.txt"):
        assert post(target, name, name.encode() * 3).status_code == 204

    assert [i.key for i in presigning.list("builds/")] == [
        "builds/b1/a.html",
        "builds/b1/b.css",
        "builds/b1/empty.txt",
    ]


@pytest.mark.s3server
def test_the_root_folder_can_be_granted(presigning: ObjectStore) -> None:
    response = post(presigning.presign_post("", expires_in=600), "top.html", b"x")

    assert response.status_code == 204
    assert presigning.get("top.html") == b"x"


@pytest.mark.s3server
def test_the_policy_keeps_keys_in_the_folder(moto_s3: S3Endpoint) -> None:
    """What S3 enforces: a key outside the folder fails the policy."""
    store = fresh_s3_store(moto_s3, prefix="tenant")
    before = time.time()

    target = store.presign_post("builds/b1/", expires_in=600)

    assert target.fields["key"] == "tenant/builds/b1/${filename}"
    conditions = policy(target)["conditions"]
    assert ["starts-with", "$key", "tenant/builds/b1/"] in conditions
    assert ["starts-with", "$Content-Type", ""] in conditions
    assert {"success_action_status": "204"} in conditions
    expiration = policy(target)["expiration"]
    expires = calendar.timegm(time.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ"))
    assert before + 500 < expires < before + 700


@pytest.mark.parametrize("prefix", ["builds/b1", "../", "a//b/", "/abs/", "a\\b/"])
def test_only_a_whole_folder_can_be_granted(prefix: str) -> None:
    # Presigning is local: no server is asked, so none needs to run.
    store = S3Store("never-created", "tenant", endpoint_url="http://127.0.0.1:1")

    with pytest.raises(InvalidKey):
        store.presign_post(prefix, expires_in=600)
    with pytest.raises(InvalidKey):
        child(store, "org").presign_post(prefix, expires_in=600)


# -- stores that cannot -------------------------------------------------------------


@pytest.mark.parametrize("scoped", [False, True], ids=["filesystem", "child"])
def test_a_folder_store_leaves_form_uploads_to_keeper(
    tmp_path: Path, scoped: bool
) -> None:
    store: ObjectStore = FilesystemStore(tmp_path)
    if scoped:
        store = child(store, "org")

    assert store.supports_presigned_post is False
    with pytest.raises(NotImplementedError, match="keeper issues its own"):
        store.presign_post("builds/b1/", expires_in=600)


def test_an_s3_store_can_be_told_its_server_cannot_take_them() -> None:
    plain = store_from_url("s3://docs/sites?endpoint_url=http://127.0.0.1:1")
    told = store_from_url(
        "s3://docs/sites?endpoint_url=http://127.0.0.1:1&presigned_post=false"
    )

    assert plain.supports_presigned_post is True
    assert told.supports_presigned_post is False
    assert child(told, "org").supports_presigned_post is False
    with pytest.raises(ValueError, match="presigned_post"):
        store_from_url("s3://docs?presigned_post=maybe")


@pytest.mark.s3server
def test_rclone_serve_s3_refuses_presigned_posts(rclone_s3: S3Endpoint) -> None:
    store = fresh_s3_store(rclone_s3)
    target = store.presign_post("builds/b1/", expires_in=600)

    response = post(target, "index.html", b"<h1>x</h1>")

    assert response.status_code == 400
    assert "UnsupportedAlgorithm" in response.text
    assert list(store.list()) == []
