"""Build object stores from configuration URLs, and scope them by prefix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast, get_args
from urllib.parse import parse_qsl, unquote, urlsplit

from .base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PostTarget,
    UploadTarget,
    validate_dir_prefix,
    validate_key,
    validate_prefix,
)
from .filesystem import FilesystemStore
from .s3 import AddressingStyle, S3Store

_S3_OPTIONS = frozenset(
    {"endpoint_url", "region", "addressing_style", "presigned_post", "direct_uploads"}
)
_BOOLEANS = {"true": True, "false": False}


def store_from_url(url: str, *, base_dir: Path | None = None) -> ObjectStore:
    """The store a configuration URL names.

    - ``file:///abs/path``, ``file://relative/path`` or a plain path: a
      :class:`FilesystemStore`; relative paths are resolved against
      ``base_dir`` (default: the working directory) and the folder is created.
    - ``s3://BUCKET/PREFIX?endpoint_url=...&region=...&addressing_style=path``:
      an :class:`S3Store`. ``presigned_post=false`` is for servers that refuse
      S3's POST Object (``rclone serve s3``): keeper then receives form
      uploads and writes them itself. Credentials come from boto3's usual chain
      (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, roles), never
      from the URL, so the URL can be logged.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    # A one-letter "scheme" is a Windows drive (C:\docs), not a URL.
    if not scheme or len(scheme) == 1:
        return FilesystemStore(_resolve(Path(url), base_dir))
    if scheme == "file":
        if parts.query or parts.fragment:
            raise ValueError(f"file store URL takes no query or fragment: {url!r}")
        # file://docs/builds is relative by our convention: the "host" is the
        # path's first segment.
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"file store URL has no path: {url!r}")
        return FilesystemStore(_resolve(Path(path), base_dir))
    if scheme == "s3":
        return _s3_from_url(url, parts.netloc, parts.path, parts.query)
    raise ValueError(
        f"unsupported object store URL {url!r}: use s3://bucket/prefix, "
        "file:///absolute/path, file://relative/path or a plain path"
    )


def _resolve(path: Path, base_dir: Path | None) -> Path:
    path = path.expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return path


def _s3_from_url(url: str, bucket: str, path: str, query: str) -> S3Store:
    if not bucket:
        raise ValueError(f"S3 store URL has no bucket: {url!r}")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    unknown = sorted(set(options) - _S3_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown S3 store option(s) {', '.join(unknown)} in {url!r}; "
            f"expected any of {', '.join(sorted(_S3_OPTIONS))}"
        )
    style = options.get("addressing_style") or None
    if style is not None and style not in get_args(AddressingStyle):
        raise ValueError(
            f"addressing_style must be one of {', '.join(get_args(AddressingStyle))}"
            f", not {style!r}"
        )
    post = options.get("presigned_post", "true").lower()
    if post not in _BOOLEANS:
        raise ValueError(f"presigned_post must be true or false, not {post!r}")
    direct = options.get("direct_uploads", "false").lower()
    if direct not in _BOOLEANS:
        raise ValueError(f"direct_uploads must be true or false, not {direct!r}")
    prefix = unquote(path).strip("/")
    if prefix:
        validate_key(prefix)
    return S3Store(
        bucket,
        prefix,
        endpoint_url=options.get("endpoint_url") or None,
        region=options.get("region") or None,
        addressing_style=cast(AddressingStyle | None, style),
        presigned_post=_BOOLEANS[post],
        direct_uploads=_BOOLEANS[direct],
    )


class PrefixedStore:
    """Any store, seen from under one prefix (keeper uses one per organization).

    Keys are validated here, then passed through as ``<prefix>/<key>``, so the
    inner store validates them again: a key can never climb out of the prefix.
    """

    def __init__(self, store: ObjectStore, prefix: str) -> None:
        prefix = prefix.strip("/")
        validate_key(prefix)
        self.store = store
        self.prefix = prefix
        self.supports_presigned_put = store.supports_presigned_put
        self.supports_presigned_post = store.supports_presigned_post
        self.direct_uploads = store.direct_uploads

    def __repr__(self) -> str:
        return f"PrefixedStore({self.store!r}, {self.prefix!r})"

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None
    ) -> None:
        self.store.put(self._inner(key), data, content_type=content_type)

    def get(self, key: str) -> bytes:
        with self._outer_errors():
            return self.store.get(self._inner(key))

    def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        with self._outer_errors():
            return self.store.open(self._inner(key), start=start, end=end)

    def stat(self, key: str) -> ObjectInfo | None:
        info = self.store.stat(self._inner(key))
        return None if info is None else dataclasses.replace(info, key=key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        cut = len(self.prefix) + 1
        for info in self.store.list(f"{self.prefix}/{prefix}"):
            yield dataclasses.replace(info, key=info.key[cut:])

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        with self._outer_errors():
            self.store.copy(
                self._inner(src), self._inner(dst), content_type=content_type
            )

    def copy_verified(
        self, src: str, dst: str, *, sha256: str, content_type: str | None = None
    ) -> None:
        with self._outer_errors():
            self.store.copy_verified(
                self._inner(src),
                self._inner(dst),
                sha256=sha256,
                content_type=content_type,
            )

    def delete(self, key: str) -> None:
        self.store.delete(self._inner(key))

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return self.store.delete_prefix(f"{self.prefix}/{prefix}")

    def sha256(self, key: str) -> str:
        with self._outer_errors():
            return self.store.sha256(self._inner(key))

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
        return self.store.presign_put(
            self._inner(key),
            content_type=content_type,
            expires_in=expires_in,
            content_length=content_length,
            content_md5=content_md5,
            checksum_sha256=checksum_sha256,
        )

    def presign_post(
        self, prefix: str, *, expires_in: int, max_bytes: int | None = None
    ) -> PostTarget:
        validate_dir_prefix(prefix)
        return self.store.presign_post(
            f"{self.prefix}/{prefix}", expires_in=expires_in, max_bytes=max_bytes
        )

    def _inner(self, key: str) -> str:
        return f"{self.prefix}/{validate_key(key)}"

    @contextmanager
    def _outer_errors(self) -> Iterator[None]:
        """Report missing keys as the caller named them, without our prefix."""
        try:
            yield
        except ObjectNotFound as exc:
            inner = f"{self.prefix}/"
            if not exc.key.startswith(inner):
                raise
            raise ObjectNotFound(exc.key[len(inner) :]) from exc


def child(store: ObjectStore, prefix: str) -> ObjectStore:
    """``store`` scoped under ``prefix``; nesting folds into one prefix."""
    if isinstance(store, PrefixedStore):
        inner = validate_key(prefix.strip("/"))
        return PrefixedStore(store.store, f"{store.prefix}/{inner}")
    return PrefixedStore(store, prefix)
