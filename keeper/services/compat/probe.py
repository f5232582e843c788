"""Does this S3 server really take presigned POSTs?

Some S3-compatible servers sign and list fine but refuse POST Object
(``rclone serve s3`` answers 400 UnsupportedAlgorithm), and a client
would only find out file by file. One probe upload per store and process
turns that into one clear error before any build is registered.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid

import httpx

from keeper.services.errors import KeeperError
from keeper.storage import ObjectStore, StorageError

_BODY = b"keeper presigned POST probe\n"
_NAME = "probe.txt"
_TIMEOUT = 30.0

_verified: set[str] = set()
_lock = threading.Lock()


class PresignedPostUnsupported(KeeperError):
    status_code = 501
    error_type = "presigned_post_unsupported"


def ensure_presigned_post_works(store: ObjectStore) -> None:
    """Raise :class:`PresignedPostUnsupported` unless a presigned POST to
    ``store`` lands where it should and answers 204 as S3 does."""
    identity = repr(store)
    with _lock:
        if identity in _verified:
            return
    folder = f"_keeper/post-probe/{uuid.uuid4().hex}/"
    target = store.presign_post(folder, expires_in=300)
    try:
        response = httpx.post(
            target.url,
            data={**target.fields, "Content-Type": "text/plain"},
            files={"file": (_NAME, _BODY)},
            timeout=_TIMEOUT,
        )
        landed = store.stat(folder + _NAME)
    except httpx.HTTPError as exc:
        raise PresignedPostUnsupported(
            f"keeper could not reach the object store at {target.url} to check "
            f"that it takes presigned POST uploads: {exc}"
        ) from exc
    finally:
        _clean(store, folder)
    if response.status_code != 204 or landed is None or landed.size != len(_BODY):
        raise PresignedPostUnsupported(_refusal(response, landed is not None))
    with _lock:
        _verified.add(identity)


def _clean(store: ObjectStore, folder: str) -> None:
    # A stray probe object is harmless; the verdict matters more. Deleting
    # the folder also removes the literal key a server that ignores
    # ${filename} leaves.
    with contextlib.suppress(StorageError):
        store.delete_prefix(folder)


def _refusal(response: httpx.Response, landed: bool) -> str:
    code = re.search(r"<Code>([^<]*)</Code>", response.text)
    answer = f"HTTP {response.status_code}" + (f" {code.group(1)}" if code else "")
    if response.status_code == 204 and not landed:
        answer += " but the object did not land at its key"
    return (
        f"the object store does not take S3 presigned POST uploads ({answer}), "
        "which ltd-conveyor 0.8 needs; rclone serve s3 is one such server. "
        "Add presigned_post=false to the storage URL (KEEPER_STORAGE_URL, or "
        "the organization's storage_url) and keeper receives those uploads "
        "itself."
    )
