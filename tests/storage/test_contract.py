"""The ObjectStore contract, run against every backend.

rclone note: a folder-backed store cannot hold a key that is also a prefix
of other keys (``a`` beside ``a/b.html``), so no test here does that; see
test_filesystem.py for how the filesystem backend refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from keeper.storage import InvalidKey, ObjectNotFound, ObjectStore
from tests.servers import S3Endpoint
from tests.storage.conftest import fresh_s3_store


def read(store: ObjectStore, key: str, **range_: int) -> bytes:
    return b"".join(store.open(key, **range_))


def keys(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key for info in store.list(prefix)]


def test_every_backend_satisfies_the_protocol(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)


# -- put / get ---------------------------------------------------------------


def test_put_then_get_round_trips(store: ObjectStore) -> None:
    store.put("builds/b1/index.html", b"<h1>hello</h1>", content_type="text/html")

    assert store.get("builds/b1/index.html") == b"<h1>hello</h1>"


def test_put_replaces_an_existing_object(store: ObjectStore) -> None:
    store.put("page.html", b"first version, rather long")
    before = store.stat("page.html")
    store.put("page.html", b"second")

    after = store.stat("page.html")
    assert store.get("page.html") == b"second"
    assert before is not None and after is not None
    assert after.size == 6
    assert after.etag != before.etag


def test_put_accepts_a_stream(store: ObjectStore) -> None:
    store.put("data.bin", io.BytesIO(b"streamed bytes"))

    assert store.get("data.bin") == b"streamed bytes"


def test_empty_object(store: ObjectStore) -> None:
    store.put("empty.txt", b"")

    assert store.get("empty.txt") == b""
    info = store.stat("empty.txt")
    assert info is not None and info.size == 0
    assert read(store, "empty.txt") == b""
    assert read(store, "empty.txt", start=0) == b""


def test_get_of_a_missing_key_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        store.get("no/such/key.html")
    assert caught.value.key == "no/such/key.html"


# -- stat ----------------------------------------------------------------------


def test_stat_describes_an_object(store: ObjectStore) -> None:
    store.put("docs/page.html", b"12345", content_type="text/html")

    info = store.stat("docs/page.html")

    assert info is not None
    assert info.key == "docs/page.html"
    assert info.size == 5
    assert info.content_type == "text/html"
    assert info.etag
    assert isinstance(info.last_modified, datetime)
    assert info.last_modified.tzinfo is not None


def test_stat_of_a_missing_key_is_none(store: ObjectStore) -> None:
    assert store.stat("missing.html") is None


def test_a_prefix_is_not_an_object(store: ObjectStore) -> None:
    store.put("dir/page.html", b"x")

    assert store.stat("dir") is None
    with pytest.raises(ObjectNotFound):
        store.get("dir")


# -- list ----------------------------------------------------------------------

LISTED = ["a-b", "a/b", "a0", "ab", "b/c/d.txt", "b/c/e.txt", "ba"]


def _put_all(store: ObjectStore, names: list[str]) -> None:
    # Shuffled on purpose: order must come from the store, not insertion.
    for name in reversed(names):
        store.put(name, name.encode())


def test_list_returns_everything_in_key_order(store: ObjectStore) -> None:
    _put_all(store, LISTED)

    infos = list(store.list())

    # "a-b" < "a/b" < "a0": plain string order, not directory order.
    assert [i.key for i in infos] == LISTED
    assert [i.size for i in infos] == [len(k) for k in LISTED]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a", ["a-b", "a/b", "a0", "ab"]),
        ("a/", ["a/b"]),
        ("b/c/", ["b/c/d.txt", "b/c/e.txt"]),
        ("b/c/d", ["b/c/d.txt"]),
        ("b", ["b/c/d.txt", "b/c/e.txt", "ba"]),
        ("zzz", []),
        ("zzz/", []),
    ],
)
def test_list_filters_by_string_prefix(
    store: ObjectStore, prefix: str, expected: list[str]
) -> None:
    _put_all(store, LISTED)

    assert keys(store, prefix) == expected


def test_list_of_an_empty_store_is_empty(store: ObjectStore) -> None:
    assert keys(store) == []


# -- open ----------------------------------------------------------------------

DATA = bytes(range(256)) * 1000  # 256 000 bytes: several 64 KiB chunks


@pytest.mark.parametrize(
    ("range_", "expected"),
    [
        ({}, DATA),
        ({"start": 10, "end": 19}, DATA[10:20]),
        ({"start": 0, "end": 0}, DATA[:1]),
        ({"start": 100_000}, DATA[100_000:]),
        ({"end": 9}, DATA[:10]),
        ({"start": 65_530, "end": 65_545}, DATA[65_530:65_546]),
        ({"start": 255_990, "end": 10**9}, DATA[255_990:]),
        ({"start": len(DATA)}, b""),
        ({"start": 10**9}, b""),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_open_streams_an_inclusive_range(
    store: ObjectStore, range_: dict[str, int], expected: bytes
) -> None:
    store.put("blob.bin", DATA)

    assert read(store, "blob.bin", **range_) == expected


def test_open_streams_in_bounded_chunks(store: ObjectStore) -> None:
    store.put("blob.bin", DATA)

    chunks = list(store.open("blob.bin"))

    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 64 * 1024


def test_open_of_a_missing_key_fails_before_iteration(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.open("missing.bin")


def test_open_refuses_a_backwards_range(store: ObjectStore) -> None:
    store.put("blob.bin", DATA)

    with pytest.raises(ValueError):
        store.open("blob.bin", start=10, end=5)


# -- copy / delete ---------------------------------------------------------------


def test_copy_duplicates_an_object(store: ObjectStore) -> None:
    store.put("builds/1/page.html", b"<p>v1</p>", content_type="text/html")

    store.copy("builds/1/page.html", "builds/2/page.html")

    assert store.get("builds/2/page.html") == b"<p>v1</p>"
    copied = store.stat("builds/2/page.html")
    assert copied is not None and copied.content_type == "text/html"
    assert store.get("builds/1/page.html") == b"<p>v1</p>"


def test_a_copy_can_be_given_another_content_type(store: ObjectStore) -> None:
    """Keeper publishes uploads with the manifest's type, whatever type the
    upload arrived with."""
    store.put("staged/page.html", b"<p>x</p>", content_type="text/plain")

    store.copy("staged/page.html", "build/page.html", content_type="text/html")

    assert store.get("build/page.html") == b"<p>x</p>"
    copied = store.stat("build/page.html")
    # A folder store keeps no types and guesses from the name: also HTML.
    assert copied is not None and copied.content_type == "text/html"


def test_a_copys_listed_etag_is_its_md5_where_etags_are_md5s(
    store: ObjectStore,
) -> None:
    """Confirmation verifies an uploaded file from the listed ETag of the
    copy keeper made of it: the store must compute it from the copy."""
    body = b"<p>copied</p>"
    store.put("staged/a.html", body)
    store.copy("staged/a.html", "build/a.html", content_type="text/html")

    [info] = list(store.list("build/"))

    if store.supports_presigned_put:  # the S3 servers
        assert info.etag is not None
        assert info.etag.strip('"') == hashlib.md5(body).hexdigest()


def test_a_copy_is_independent_of_its_source(store: ObjectStore) -> None:
    store.put("src.txt", b"original")
    store.copy("src.txt", "dst.txt")

    store.put("src.txt", b"changed")
    store.delete("src.txt")

    assert store.get("dst.txt") == b"original"


def test_copy_replaces_an_existing_destination(store: ObjectStore) -> None:
    store.put("src.txt", b"new")
    store.put("dst.txt", b"old and longer")

    store.copy("src.txt", "dst.txt")

    assert store.get("dst.txt") == b"new"


def test_copy_of_a_missing_source_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        store.copy("missing.txt", "dst.txt")
    assert caught.value.key == "missing.txt"
    assert store.stat("dst.txt") is None


def test_delete_removes_one_object(store: ObjectStore) -> None:
    store.put("dir/a.txt", b"a")
    store.put("dir/b.txt", b"b")

    store.delete("dir/a.txt")

    assert store.stat("dir/a.txt") is None
    assert keys(store) == ["dir/b.txt"]


def test_deleting_a_missing_object_is_not_an_error(store: ObjectStore) -> None:
    store.delete("never/existed.txt")
    store.put("once.txt", b"x")
    store.delete("once.txt")
    store.delete("once.txt")

    assert keys(store) == []


def test_delete_prefix_removes_everything_under_it(store: ObjectStore) -> None:
    for name in ("builds/1/a.html", "builds/1/sub/b.html", "builds/1/c.css"):
        store.put(name, b"x")
    store.put("builds/10/a.html", b"sibling")
    store.put("other.html", b"other")

    removed = store.delete_prefix("builds/1/")

    assert removed == 3
    assert keys(store) == ["builds/10/a.html", "other.html"]
    assert store.delete_prefix("builds/1/") == 0


def test_delete_prefix_of_nothing_is_zero(store: ObjectStore) -> None:
    assert store.delete_prefix("nothing/here/") == 0


# -- sha256 ----------------------------------------------------------------------


def test_sha256_hashes_the_bytes(store: ObjectStore) -> None:
    store.put("blob.bin", DATA)

    assert store.sha256("blob.bin") == hashlib.sha256(DATA).hexdigest()


def test_sha256_of_a_missing_key_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.sha256("missing.bin")


# -- key safety ------------------------------------------------------------------

BAD_KEYS = ["", "../x", "a/../../x", "/abs", "a//b", "a\\b", "a\x00b", "a/./b", "a/"]

OPERATIONS: dict[str, Callable[[ObjectStore, str], object]] = {
    "put": lambda s, k: s.put(k, b"x"),
    "get": lambda s, k: s.get(k),
    "open": lambda s, k: s.open(k),
    "stat": lambda s, k: s.stat(k),
    "copy-from": lambda s, k: s.copy(k, "ok.txt"),
    "copy-to": lambda s, k: s.copy("ok.txt", k),
    "delete": lambda s, k: s.delete(k),
    "sha256": lambda s, k: s.sha256(k),
}


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_invalid_keys_are_refused(store: ObjectStore, operation: str, key: str) -> None:
    store.put("ok.txt", b"ok")

    with pytest.raises(InvalidKey):
        OPERATIONS[operation](store, key)

    assert keys(store) == ["ok.txt"]
    assert store.get("ok.txt") == b"ok"


@pytest.mark.parametrize("prefix", ["../", "../x", "/abs", "a//b", "a\\b", "/"])
def test_invalid_prefixes_are_refused(store: ObjectStore, prefix: str) -> None:
    store.put("ok.txt", b"ok")

    with pytest.raises(InvalidKey):
        list(store.list(prefix))
    with pytest.raises(InvalidKey):
        store.delete_prefix(prefix)
    assert keys(store) == ["ok.txt"]


def test_presign_put_refuses_invalid_keys(store: ObjectStore) -> None:
    if not store.supports_presigned_put:
        pytest.skip("backend has no presigned uploads")
    with pytest.raises(InvalidKey):
        store.presign_put("../x", content_type="text/html", expires_in=60)


# -- presigned uploads -----------------------------------------------------------


def test_presigned_put_accepts_a_plain_http_upload(store: ObjectStore) -> None:
    if not store.supports_presigned_put:
        with pytest.raises(NotImplementedError, match="presign"):
            store.presign_put("a.html", content_type="text/html", expires_in=60)
        return

    target = store.presign_put(
        "builds/7/index.html", content_type="text/html", expires_in=300
    )
    response = httpx.request(
        target.method, target.url, headers=target.headers, content=b"<p>direct</p>"
    )

    assert response.status_code == 200, response.text
    assert target.headers == {"Content-Type": "text/html"}
    assert store.get("builds/7/index.html") == b"<p>direct</p>"
    info = store.stat("builds/7/index.html")
    assert info is not None and info.content_type == "text/html"


def test_presigned_put_with_md5_lists_that_md5_as_etag(store: ObjectStore) -> None:
    body = b"<p>checked</p>"
    md5 = hashlib.md5(body).digest()
    if not store.supports_presigned_put:
        with pytest.raises(NotImplementedError, match="presign"):
            store.presign_put(
                "a.html", content_type="text/html", expires_in=60, content_md5="x"
            )
        return
    target = store.presign_put(
        "builds/8/index.html",
        content_type="text/html",
        expires_in=300,
        content_md5=base64.b64encode(md5).decode(),
    )
    assert target.headers["Content-MD5"] == base64.b64encode(md5).decode()
    response = httpx.request(
        target.method, target.url, headers=target.headers, content=body
    )
    assert response.status_code == 200, response.text
    [info] = list(store.list("builds/8/"))
    assert info.etag is not None and info.etag.strip('"') == md5.hex()


@pytest.mark.s3server
def test_rclone_refuses_a_body_whose_md5_differs(rclone_s3: S3Endpoint) -> None:
    # moto checks neither signatures nor digests; rclone and S3 check both.
    store = fresh_s3_store(rclone_s3)
    signed_md5 = base64.b64encode(hashlib.md5(b"<p>expected</p>").digest()).decode()
    target = store.presign_put(
        "builds/9/index.html",
        content_type="text/html",
        expires_in=300,
        content_md5=signed_md5,
    )
    response = httpx.request(
        target.method, target.url, headers=target.headers, content=b"<p>tampered</p>"
    )
    assert response.status_code == 400
    assert "BadDigest" in response.text
    assert store.stat("builds/9/index.html") is None


# -- awkward content -------------------------------------------------------------


def test_large_binary_objects_survive_intact(store: ObjectStore) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 3)
    digest = hashlib.sha256(payload).hexdigest()

    store.put("big/as-bytes.bin", payload)
    store.put("big/as-stream.bin", io.BytesIO(payload))

    for key in ("big/as-bytes.bin", "big/as-stream.bin"):
        info = store.stat(key)
        assert info is not None and info.size == len(payload)
        assert store.get(key) == payload
        assert store.sha256(key) == digest
        middle = read(store, key, start=3_000_000, end=3_100_000)
        assert middle == payload[3_000_000:3_100_001]


ODD_KEYS = [
    "docs/my page.html",
    "docs/ünïcødé/日本語.html",
    "docs/a+b=c&d;e.html",
    "docs/100% done?.html",
    "docs/#hash'quote\".html",
    "docs/emoji-🚀.txt",
]


def test_keys_with_spaces_and_unicode(store: ObjectStore) -> None:
    for key in ODD_KEYS:
        store.put(key, key.encode())

    assert keys(store, "docs/") == sorted(ODD_KEYS)
    for key in ODD_KEYS:
        assert store.get(key) == key.encode()
        info = store.stat(key)
        assert info is not None and info.size == len(key.encode())

    store.copy(ODD_KEYS[1], "copied/日本語 copy.html")
    assert store.get("copied/日本語 copy.html") == ODD_KEYS[1].encode()
    assert store.delete_prefix("docs/") == len(ODD_KEYS)
    assert keys(store) == ["copied/日本語 copy.html"]


def test_concurrent_writers_share_one_store(store: ObjectStore) -> None:
    names = [f"builds/9/file-{i:03}.txt" for i in range(64)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: store.put(n, n.encode()), names))

    assert keys(store, "builds/9/") == names
    assert all(store.get(n) == n.encode() for n in names)
