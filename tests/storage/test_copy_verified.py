"""``copy_verified``: how keeper places an upload as a content-addressed
object, on every backend. Only bytes that hash to the name are ever
written, and the bytes written are the bytes hashed."""

from __future__ import annotations

import hashlib

import pytest

from keeper.storage import ContentMismatch, ObjectNotFound, ObjectStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_copies_bytes_that_hash_to_the_name(store: ObjectStore) -> None:
    body = b"<p>page</p>\n" * 100
    store.put("staging/b/page.html", body)
    store.copy_verified(
        "staging/b/page.html",
        f"objects/{sha(body)}",
        sha256=sha(body),
        content_type="text/html",
    )
    assert store.get(f"objects/{sha(body)}") == body
    # The source is left as it was.
    assert store.get("staging/b/page.html") == body


def test_refuses_bytes_that_do_not_and_writes_nothing(store: ObjectStore) -> None:
    store.put("staging/b/page.html", b"what the client sent")
    claimed = sha(b"what the client said it would send")
    with pytest.raises(ContentMismatch):
        store.copy_verified("staging/b/page.html", f"objects/{claimed}", sha256=claimed)
    assert store.stat(f"objects/{claimed}") is None
    assert [i.key for i in store.list("objects/")] == []


def test_a_mismatch_leaves_an_existing_object_alone(store: ObjectStore) -> None:
    good = b"verified bytes"
    store.put(f"objects/{sha(good)}", good)
    store.put("staging/b/x", b"other bytes")
    with pytest.raises(ContentMismatch):
        store.copy_verified("staging/b/x", f"objects/{sha(good)}", sha256=sha(good))
    assert store.get(f"objects/{sha(good)}") == good


def test_a_missing_source_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.copy_verified("staging/b/gone", "objects/x", sha256=sha(b""))


def test_replacing_the_source_later_does_not_change_the_copy(
    store: ObjectStore,
) -> None:
    """A leaked upload URL writing to staging after the copy changes
    nothing placed (on a folder store the copy is a hard link: the upload
    must replace the file, never write into it)."""
    body = b"first"
    store.put("staging/b/f", body)
    store.copy_verified("staging/b/f", f"objects/{sha(body)}", sha256=sha(body))
    store.put("staging/b/f", b"second, from a leaked URL")
    assert store.get(f"objects/{sha(body)}") == body
