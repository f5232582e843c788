"""Reading a build's manifest back from storage, markers aside."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from keeper.services.compat.manifest import LandedFile, read_landed, split_markers
from keeper.storage import FilesystemStore, ObjectInfo
from tests.servers import S3Endpoint
from tests.storage.conftest import fresh_s3_store


def info(key: str, size: int) -> ObjectInfo:
    return ObjectInfo(key=key, size=size)


def test_an_empty_object_named_like_a_folder_is_a_marker() -> None:
    files, markers = split_markers(
        [
            info("a", 0),
            info("a/b", 0),
            info("a/b/index.html", 5),
            info("a-b", 0),
            info("empty.txt", 0),
            info("x", 3),
            info("x/y.html", 3),
        ]
    )

    assert [m.key for m in markers] == ["a", "a/b"]
    # Empty files stay files; so does a non-empty object beside a folder.
    assert [f.key for f in files] == [
        "a/b/index.html",
        "a-b",
        "empty.txt",
        "x",
        "x/y.html",
    ]


def landed(path: str, data: bytes, content_type: str) -> LandedFile:
    return LandedFile(path, len(data), hashlib.sha256(data).hexdigest(), content_type)


def test_read_landed_describes_every_file(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    store.put("p/builds/b/index.html", b"<h1>x</h1>")
    store.put("p/builds/b/_static/app.js", b"let x")
    store.put("p/builds/b/empty.txt", b"")
    store.put("p/builds/other/index.html", b"not this build")

    result = sorted(read_landed(store, "p/builds/b/"), key=lambda f: f.path)

    assert result == [
        landed("_static/app.js", b"let x", "text/javascript"),
        landed("empty.txt", b"", "text/plain"),
        landed("index.html", b"<h1>x</h1>", "text/html"),
    ]


@pytest.mark.s3server
def test_markers_that_landed_in_s3_are_dropped_and_removed(
    moto_s3: S3Endpoint,
) -> None:
    store = fresh_s3_store(moto_s3)
    store.put("p/builds/b/api", b"")
    store.put("p/builds/b/api/index.html", b"<h1>api</h1>", content_type="text/html")
    store.put("p/builds/b/data.bin", b"\x00\x01", content_type="application/x-thing")

    result = sorted(read_landed(store, "p/builds/b/"), key=lambda f: f.path)

    assert result == [
        landed("api/index.html", b"<h1>api</h1>", "text/html"),
        # The type the client stored wins over a guess from the name.
        landed("data.bin", b"\x00\x01", "application/x-thing"),
    ]
    assert store.stat("p/builds/b/api") is None
