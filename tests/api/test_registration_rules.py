"""What a registration refuses (422, naming the rule or limit), and that a
refused or failed registration leaves nothing behind: no build, no object.

Database tests run on SQLite and PostgreSQL; storage tests on the
filesystem store, moto and ``rclone serve s3``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keeper.domain.limits import (
    GIB,
    MAX_BUILD_BYTES,
    MAX_FILE_BYTES,
    MAX_MANIFEST_FILES,
)
from keeper.services.builds import register as register_module
from keeper.storage import FilesystemStore, S3Store, StorageError
from tests.api.conftest import PRODUCT_API, Stored, publish_on
from tests.conftest import Keeper
from tests.publishing import Files, manifest_of, site

SHA = "0" * 64


def entry(path: str, size: int = 1) -> dict[str, Any]:
    return {"path": path, "size": size, "sha256": SHA, "content_type": "text/html"}


def post(k: Keeper, manifest: list[dict[str, Any]]) -> Any:
    return k.client.post(
        f"{PRODUCT_API}/builds",
        headers=k.auth(),
        json={"git_ref": "main", "manifest": manifest},
    )


def builds(k: Keeper) -> list[str]:
    r = k.client.get(f"{PRODUCT_API}/builds")
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()]


def message(response: Any) -> str:
    return " ".join(d["msg"] for d in response.json()["detail"])


# -- one path at a time ----------------------------------------------------------

#: path -> a phrase the refusal must contain.
PATHS = {
    "x" * 256 + ".html": "MAX_SEGMENT_BYTES",
    # 133 characters, 261 bytes: the limit is in bytes, as file systems count.
    "\u00e9" * 128 + ".html": "MAX_SEGMENT_BYTES",
    "/".join(["d" * 200] * 4): "MAX_PATH_BYTES",
    "a/" * 33 + "deep.html": "MAX_PATH_DEPTH",
    ".keeper-tmp-abc": "reserved",
    "a/.keeper-tmp-x/b.html": "reserved",
    "../up.html": "'..' segment",
    "a/../../b.html": "'..' segment",
    "./a.html": "'.' segment",
    "a//b.html": "empty segment",
    "/etc/passwd": "absolute",
    "a\\b.html": "backslash",
    "a\x00b.html": "control character",
    "a\nb.html": "control character",
    "a\x85b.html": "control character",
    "%2e%2e/x.html": "percent-decodes",
    "a/%2E%2e/b.html": "percent-decodes",
    "a/.%2e/b.html": "percent-decodes",
    "%252e%252e/x.html": "percent-decodes",
    "a%2fb.html": "percent-decodes",
    "a%5cb.html": "percent-decodes",
    "a%00b.html": "percent-decodes",
}


@pytest.mark.parametrize("path", sorted(PATHS), ids=lambda p: repr(p)[:40])
def test_a_path_no_store_or_edge_can_hold_is_refused(
    product: Keeper, path: str
) -> None:
    response = post(product, [entry("index.html"), entry(path)])

    assert response.status_code == 422, response.text
    assert PATHS[path] in message(response)
    assert builds(product) == []


def test_a_path_that_is_not_unicode_is_refused(product: Keeper) -> None:
    """A lone surrogate can be written in JSON but not as a file name."""
    body = '{"git_ref": "main", "manifest": [{"path": "\\ud800.html", "size": 1, '
    body += f'"sha256": "{SHA}"' + "}]}"

    response = product.client.post(
        f"{PRODUCT_API}/builds",
        headers={**product.auth(), "Content-Type": "application/json"},
        content=body,
    )

    assert response.status_code == 422, response.text
    assert builds(product) == []


@pytest.mark.parametrize(
    "path",
    [
        "a" * 255,
        "/".join(["d" * 255] * 3),
        "a/" * 32 + "x",
        "caf\u00e9.html",
        "%41.html",
    ],
    ids=["longest-name", "long-path", "deepest", "unicode", "percent-letter"],
)
def test_paths_at_the_limits_are_taken(product: Keeper, path: str) -> None:
    response = post(product, [entry(path)])

    assert response.status_code == 201, response.text


# -- the files of one manifest together -------------------------------------------

MANIFESTS = {
    "file-beside-folder": (["q", "q/y.html"], "same build"),
    "deeper-clash": (["a/b/c.html", "a/b"], "'a/b'"),
    "clash-of-twins": (["caf\u00e9", "cafe\u0301/x.html"], "caf"),
    "nfc-twins": (["caf\u00e9.html", "cafe\u0301.html"], "NFC"),
    "repeated": (["index.html", "index.html"], "repeated"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_paths_one_build_cannot_hold_together_are_refused(
    product: Keeper, case: str
) -> None:
    paths, phrase = MANIFESTS[case]

    response = post(product, [entry(p) for p in paths])

    assert response.status_code == 422, response.text
    assert phrase in message(response)
    assert builds(product) == []


# -- sizes and counts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [2**64, 2**63, MAX_FILE_BYTES + 1, -1],
    ids=["2^64", "2^63", "limit+1", "-1"],
)
def test_a_size_out_of_bounds_is_refused(product: Keeper, size: int) -> None:
    response = post(product, [entry("big.bin", size)])

    assert response.status_code == 422, response.text
    assert builds(product) == []


def test_sizes_beyond_32_bits_are_recorded(product: Keeper) -> None:
    """A 5 GiB file in a 45 GiB build: PostgreSQL's INTEGER stops at 2 GiB."""
    manifest = [entry(f"part{i}.bin", MAX_FILE_BYTES) for i in range(9)]

    response = post(product, manifest)

    assert response.status_code == 201, response.text
    assert response.json()["total_size"] == 9 * MAX_FILE_BYTES == 45 * GIB


def test_a_build_larger_than_the_limit_is_refused(product: Keeper) -> None:
    count = MAX_BUILD_BYTES // MAX_FILE_BYTES + 1
    manifest = [entry(f"part{i}.bin", MAX_FILE_BYTES) for i in range(count)]

    response = post(product, manifest)

    assert response.status_code == 422, response.text
    assert "MAX_BUILD_BYTES" in message(response)


def test_a_manifest_of_too_many_files_is_refused(product: Keeper) -> None:
    body = json.dumps(
        {
            "git_ref": "main",
            "manifest": [
                {"path": f"p{i}", "size": 0, "sha256": SHA}
                for i in range(MAX_MANIFEST_FILES + 1)
            ],
        }
    )

    response = product.client.post(
        f"{PRODUCT_API}/builds",
        headers={**product.auth(), "Content-Type": "application/json"},
        content=body,
    )

    assert response.status_code == 422, response.text
    assert builds(product) == []


def test_renewal_refuses_paths_no_build_can_hold(product: Keeper) -> None:
    build = post(product, [entry("index.html")]).json()

    response = product.client.post(
        f"{PRODUCT_API}/builds/{build['id']}/uploads",
        headers=product.auth(),
        json={"paths": ["../../x.html"]},
    )

    assert response.status_code == 422


# -- a failed registration leaves nothing ----------------------------------------


def fail_on_call(
    monkeypatch: pytest.MonkeyPatch, cls: type, name: str, when: int
) -> list[int]:
    """Make ``cls.name`` raise StorageError on its ``when``-th call."""
    original = getattr(cls, name)
    calls: list[int] = []

    def failing(self: object, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == when:
            raise StorageError(f"injected failure of {name} call {when}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, failing)
    return calls


def store_class(stored: Stored) -> type:
    return FilesystemStore if stored.backend == "filesystem" else S3Store


def test_registering_makes_no_storage_request_for_what_is_held(
    stored: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A content-addressed product: registration looks up held objects in
    the database and asks the store nothing (no copy, no listing, no read)
    whatever the size of the build; only new content gets an upload URL."""
    files: Files = site("v1", pages=8)
    first = publish_on(stored, files)
    before = stored.walk()
    touched: list[str] = []
    cls = store_class(stored)
    for name in (
        "put",
        "get",
        "open",
        "stat",
        "list",
        "copy",
        "copy_verified",
        "delete",
        "delete_prefix",
        "sha256",
    ):
        original = getattr(cls, name)

        def refuse(self: object, *args: object, _n: str = name, **kw: object) -> object:
            touched.append(_n)
            raise StorageError(f"registration asked the store to {_n}")

        monkeypatch.setattr(cls, name, refuse)
        del original

    response = post(stored, manifest_of({**files, "new.html": b"<p>new</p>"}))

    assert response.status_code == 201, response.text
    assert touched == []
    assert [u["path"] for u in response.json()["uploads"]] == ["new.html"]
    assert response.json()["reused"] == len(files)
    monkeypatch.undo()
    assert stored.walk() == before
    assert first["id"] in builds(stored)


def test_a_failure_handing_out_urls_leaves_nothing(
    stored: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: Files = site("v1", pages=4)
    first = publish_on(stored, files)
    before = stored.walk()

    def broken(*args: object, **kwargs: object) -> object:
        raise StorageError("injected: the store cannot sign an upload URL")

    monkeypatch.setattr(register_module, "upload_target", broken)

    response = post(stored, manifest_of({**files, "new.html": b"<p>new</p>"}))

    assert response.status_code == 502, response.text
    assert stored.walk() == before
    assert builds(stored) == [first["id"]]


def test_what_used_to_fail_at_the_store_is_refused_first(stored: Stored) -> None:
    """A 300-character name, a file beside a folder of its name and a
    reserved name once passed validation and failed in the store (502),
    leaving copies behind; now they are refused up front, reuse or not."""
    long_name = "n" * 300 + ".html"
    files: Files = {"q/y.html": b"<p>y</p>", "ok.html": b"<p>ok</p>"}
    publish_on(stored, files)
    before = stored.walk()
    attempts = [
        manifest_of({**files, long_name: b"x"}),
        manifest_of({**files, "q": b"<p>y</p>"}),
        manifest_of({**files, ".keeper-tmp-1": b"<p>ok</p>"}),
    ]

    answers = [post(stored, manifest).status_code for manifest in attempts]

    assert answers == [422, 422, 422]
    assert stored.walk() == before
    assert len(builds(stored)) == 1
