"""The object store port: what keeper needs from any blob storage.

Keys are always relative, ``/``-separated and normalised (see
:func:`validate_key`); each implementation maps them under its own root
(a folder, or a bucket plus prefix).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable


class StorageError(Exception):
    """Any failure talking to the object store."""


class ObjectNotFound(StorageError):
    """The key does not exist."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key!r}")
        self.key = key


class ContentMismatch(StorageError):
    """An object's bytes do not hash to what they were expected to."""

    def __init__(self, key: str, sha256: str, size: int | None = None) -> None:
        super().__init__(f"{key!r} does not hash to sha256 {sha256}")
        self.key = key
        self.sha256 = sha256
        #: How many bytes were hashed, when known.
        self.size = size


class InvalidKey(StorageError, ValueError):
    """A key that could escape its root or cannot be stored."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a client sends one object directly to the store."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostTarget:
    """Where and how a client sends files under one prefix as HTML form POSTs.

    The client posts ``fields`` plus its own ``Content-Type`` field and the
    file as the ``file`` part; ``${filename}`` in the ``key`` field becomes
    the part's file name, the way S3's POST Object does it.
    """

    url: str
    fields: dict[str, str] = field(default_factory=dict)


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative key, else raise.

    Refused: empty keys, absolute keys, ``.``/``..`` segments, empty
    segments (``//``), backslashes, NUL and other control characters.
    """
    if not key:
        raise InvalidKey("empty key")
    if key.startswith("/"):
        raise InvalidKey(f"absolute key {key!r}")
    if "\\" in key:
        raise InvalidKey(f"backslash in key {key!r}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidKey(f"control character in key {key!r}")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidKey(f"bad segment {part!r} in key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged if it is safe to list or delete under.

    A prefix is a key that may be cut anywhere: ``""`` (everything),
    ``"builds/"`` and ``"builds/12"`` are all fine. Every segment but the
    last follows :func:`validate_key`; the last is only ever compared as
    a string, so it may be empty or partial.
    """
    if not prefix:
        return prefix
    head, _, tail = prefix.rpartition("/")
    if head:
        validate_key(head)
    elif prefix.startswith("/"):
        raise InvalidKey(f"absolute prefix {prefix!r}")
    if "\\" in tail or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in tail):
        raise InvalidKey(f"bad character in prefix {prefix!r}")
    return prefix


def validate_dir_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged if it names a whole folder, else raise.

    A folder prefix is ``""`` (the root) or a valid key followed by ``/``;
    form uploads are granted per folder, so a partial name is never one.
    """
    if not prefix:
        return prefix
    if not prefix.endswith("/"):
        raise InvalidKey(f"a folder prefix ends with '/': {prefix!r}")
    validate_key(prefix[:-1])
    return prefix


#: Streaming reads hand out chunks of this many bytes.
CHUNK_SIZE = 64 * 1024


@runtime_checkable
class ObjectStore(Protocol):
    """Blob storage used for builds and generated metadata."""

    #: True when :meth:`presign_put` gives URLs clients can use directly.
    supports_presigned_put: bool
    #: True when :meth:`presign_post` gives form targets clients can use.
    supports_presigned_post: bool
    #: True when a presigned PUT may write a content-addressed object in
    #: place rather than into staging: the server refuses any body whose
    #: MD5 is not the signed Content-MD5, so a URL (leaked, replayed) can
    #: only ever write the bytes it was signed for. An operator setting,
    #: ``direct_uploads=true`` in the S3 URL: AWS S3, rclone and MinIO
    #: check; moto does not.
    direct_uploads: bool

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None
    ) -> None:
        """Write an object (replacing any existing one) atomically."""
        ...

    def get(self, key: str) -> bytes:
        """Read a whole object. Raises :class:`ObjectNotFound`."""
        ...

    def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """Stream an object, optionally the inclusive byte range start..end.

        ``start`` defaults to 0 and ``end`` to the last byte; an ``end``
        past the object is clamped and a ``start`` past it yields nothing.
        Raises :class:`ObjectNotFound` when called, not when iterated.
        """
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """Metadata of one object, or None when it does not exist."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        """Server-side copy. Raises :class:`ObjectNotFound` for a missing src.

        With ``content_type`` the copy is stored with that type (where the
        store keeps types at all) rather than the source's.
        """
        ...

    def copy_verified(
        self, src: str, dst: str, *, sha256: str, content_type: str | None = None
    ) -> None:
        """Copy ``src`` to ``dst`` only if its bytes hash to ``sha256``, and
        copy exactly the bytes that were hashed, even if ``src`` is being
        replaced meanwhile (a leaked upload URL still writing to it).

        Raises :class:`ContentMismatch` (``dst`` untouched) or
        :class:`ObjectNotFound` for a missing ``src``.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove one object; removing a missing object is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many."""
        ...

    def sha256(self, key: str) -> str:
        """Hex sha256 of an object's bytes. Raises :class:`ObjectNotFound`."""
        ...

    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        expires_in: int,
        content_length: int | None = None,
        content_md5: str | None = None,
        checksum_sha256: str | None = None,
    ) -> UploadTarget:
        """A URL a client can PUT the object's bytes to, without credentials.

        Only meaningful when :attr:`supports_presigned_put` is true. Each of
        ``content_length``, ``content_md5`` and ``checksum_sha256`` (both
        base64, as in their headers) is covered by the signature, so a store
        that checks what it signed refuses any other body. Which servers
        check what is pinned down in tests/storage/test_presigned_put.py.
        """
        ...

    def presign_post(
        self, prefix: str, *, expires_in: int, max_bytes: int | None = None
    ) -> PostTarget:
        """A form target that takes any object under the folder ``prefix``
        (see :func:`validate_dir_prefix`) and nothing outside it; with
        ``max_bytes``, no file larger than that.

        Only meaningful when :attr:`supports_presigned_post` is true.
        """
        ...
