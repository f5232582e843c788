"""``direct_uploads=true``: on an S3 server that refuses a body whose MD5 is
not the signed Content-MD5 (``rclone serve s3`` here, as AWS S3), a file
sent with its MD5 goes straight to its content-addressed key, and
confirmation only reads it back and hashes it (no staging, no copy). What
a URL lets through is still never served or reused unless it hashes to
its key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Stored, keeper_on
from tests.api.test_upload_grants import BASE, SCRIPT, SITE
from tests.api.test_upload_grants_s3 import item_of, put, register, send, served
from tests.publishing import confirm, failed_with, manifest_of, with_md5

pytestmark = pytest.mark.s3server


@pytest.fixture
def direct(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stored]:
    with keeper_on(
        "rclone_s3",
        request,
        database_url,
        tmp_path,
        monkeypatch,
        options="&direct_uploads=true",
    ) as k:
        yield k


def object_key(k: Stored, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{k.org_root}pipelines/_objects/{digest[:2]}/{digest}"


def test_files_with_an_md5_go_straight_to_their_objects(direct: Stored) -> None:
    build = register(direct, with_md5(SITE))
    assert all("/_objects/" in u["url"] for u in build["uploads"])
    send(build, SITE)
    landed = direct.walk()
    assert not [k for k in landed if "/_staging/" in k]
    done = confirm(direct.client, BASE, direct.auth(), build["id"])
    assert done.json()["status"] == "complete", done.text
    assert direct.contents(direct.walk(), build["id"]) == SITE
    assert served(direct, "index.html") == SITE["index.html"]


def test_files_without_an_md5_still_go_through_staging(direct: Stored) -> None:
    build = register(direct, manifest_of(SITE))
    assert all("/_staging/" in u["url"] for u in build["uploads"])
    send(build, SITE)
    done = confirm(direct.client, BASE, direct.auth(), build["id"])
    assert done.json()["status"] == "complete", done.text
    assert direct.contents(direct.walk(), build["id"]) == SITE


def test_a_replayed_url_cannot_change_a_published_object(direct: Stored) -> None:
    build = register(direct, with_md5(SITE))
    send(build, SITE)
    assert confirm(direct.client, BASE, direct.auth(), build["id"]).status_code == 200
    before = direct.walk()

    replay = put(item_of(build, "index.html"), SCRIPT)  # same length

    assert replay.status_code in (400, 403), replay.text  # BadDigest
    assert direct.walk() == before
    assert served(direct, "index.html") == SITE["index.html"]


def test_bytes_that_are_not_their_sha256_are_never_recorded(direct: Stored) -> None:
    """A client that declares a sha256 its bytes do not have (with their
    true MD5, which the server checks) gets a failed build; the bytes at
    that key are neither served nor offered to the next build."""
    lie = with_md5(SITE)
    for entry in lie:
        if entry["path"] == "index.html":
            entry["md5"] = hashlib.md5(SCRIPT).hexdigest()
    build = register(direct, lie)
    send(build, {**SITE, "index.html": SCRIPT})
    error = failed_with(confirm(direct.client, BASE, direct.auth(), build["id"]))
    assert "index.html (sha256 differs)" in error

    # An honest build of the same content is asked for it again, and its
    # upload replaces what the lie left.
    honest = register(direct, with_md5(SITE))
    asked = [u["path"] for u in honest["uploads"]]
    assert "index.html" in asked
    send(honest, SITE)
    done = confirm(direct.client, BASE, direct.auth(), honest["id"])
    assert done.json()["status"] == "complete", done.text
    assert served(direct, "index.html") == SITE["index.html"]
    assert direct.walk()[object_key(direct, SITE["index.html"])] == SITE["index.html"]
