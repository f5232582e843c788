"""An object store kept in a local folder: the embedded default backend."""

from __future__ import annotations

import errno
import hashlib
import mimetypes
import os
import shutil
import stat as stat_mod
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from keeper.domain.paths import RESERVED_PREFIX

from .base import (
    CHUNK_SIZE,
    ContentMismatch,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    PostTarget,
    StorageError,
    UploadTarget,
    validate_key,
    validate_prefix,
)

#: Names starting with this are in-flight writes: never listed, never keys.
#: Builds may not use such names (keeper.domain.paths refuses them).
TEMP_PREFIX = RESERVED_PREFIX


class FilesystemStore:
    """Objects as files under ``root``; a key's ``/`` are directories.

    A folder cannot hold a file and a directory of the same name, so a key
    can never also be a prefix of other keys (``a`` beside ``a/b.html``);
    such a write raises :class:`StorageError` and leaves both untouched.
    """

    supports_presigned_put = False
    supports_presigned_post = False
    direct_uploads = False

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    # -- writing -----------------------------------------------------------

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None
    ) -> None:
        path = self._path(key)
        self._make_parent(key, path)

        def write(tmp: Path) -> None:
            try:
                out = tmp.open("xb")
            except FileNotFoundError:
                raise  # the parent vanished: _replace_via_temp retries
            except OSError as exc:
                raise _write_error(key, exc) from exc
            with out:
                # Errors reading the caller's stream propagate untouched: a
                # dropped upload is the client's failure, not the store's.
                for chunk in _chunks(data):
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise _write_error(key, exc) from exc

        self._replace_via_temp(key, path, write)

    def copy(self, src: str, dst: str, *, content_type: str | None = None) -> None:
        # Types are not stored here: readers guess them from the name.
        self._copy(src, dst, None)

    def copy_verified(
        self, src: str, dst: str, *, sha256: str, content_type: str | None = None
    ) -> None:
        self._copy(src, dst, sha256)

    def _copy(self, src: str, dst: str, sha256: str | None) -> None:
        """``src`` at ``dst`` as a hard link (or a copy of its bytes across
        filesystems); with ``sha256``, only if the linked bytes hash to it."""
        src_path = self._path(src)
        dst_path = self._path(dst)
        if not _is_file(src_path):
            raise ObjectNotFound(src)
        self._make_parent(dst, dst_path)

        def link_or_copy(tmp: Path) -> None:
            # Objects are only ever replaced, never written in place, so a
            # hard link shares bytes safely and costs no disk space; and the
            # temp name holds the inode as it is now (a later upload gives
            # the source's name a new inode, never changes these bytes).
            try:
                os.link(src_path, tmp)
            except FileNotFoundError as exc:
                raise ObjectNotFound(src) from exc
            except OSError:  # another filesystem, or links not allowed
                try:
                    shutil.copyfile(src_path, tmp)
                except FileNotFoundError as exc:
                    raise ObjectNotFound(src) from exc
                except OSError as exc:
                    raise _write_error(dst, exc) from exc
            if sha256 is None:
                return
            digest = hashlib.sha256()
            size = 0
            with tmp.open("rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
            if digest.hexdigest() != sha256:
                raise ContentMismatch(src, sha256, size)
            # Placed now, whenever it was uploaded: its age is the object's.
            os.utime(tmp)

        self._replace_via_temp(dst, dst_path, link_or_copy)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except PermissionError as exc:
            # Linux reports unlink() of a directory as EISDIR, macOS as EPERM.
            if path.is_dir():
                return
            raise StorageError(f"cannot delete {key!r}: {exc.strerror}") from exc
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        # Listing first: deleting while walking would disturb the walk.
        keys = [info.key for info in self.list(prefix)]
        parents: set[Path] = set()
        removed = 0
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot delete {key!r}: {exc.strerror}") from exc
            removed += 1
            parents.add(path.parent)
        # Deepest first, so a directory is pruned after its children.
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            self._prune(parent)
        return removed

    # -- reading -----------------------------------------------------------

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror}") from exc

    def open(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        path = self._path(key)
        _check_range(start, end)
        # Opened here, not in the generator, so a missing key fails at the
        # call where the caller can still choose a 404.
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror}") from exc
        return _read_range(handle, start or 0, end)

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        return _info(key, st)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        head, _, _ = prefix.rpartition("/")
        start = self._path(head) if head else self.root
        base = f"{head}/" if head else ""
        for key, st in _walk(start, base):
            if key.startswith(prefix):
                yield _info(key, st)

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.open(key):
            digest.update(chunk)
        return digest.hexdigest()

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
        raise NotImplementedError(
            "FilesystemStore cannot presign uploads: keeper issues its own "
            "signed PUT URLs for the filesystem backend"
        )

    def presign_post(
        self, prefix: str, *, expires_in: int, max_bytes: int | None = None
    ) -> PostTarget:
        raise NotImplementedError(
            "FilesystemStore cannot presign form uploads: keeper issues its "
            "own signed POST URLs for the filesystem backend"
        )

    # -- internals ---------------------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        if any(part.startswith(TEMP_PREFIX) for part in key.split("/")):
            raise InvalidKey(f"{TEMP_PREFIX!r} names are reserved: {key!r}")
        path = self.root.joinpath(*key.split("/"))
        # Segments are clean, but a symlink inside root could still lead out.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"key {key!r} resolves outside the store")
        return path

    def _make_parent(self, key: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(
                f"cannot store {key!r}: a parent of it is already an object"
            ) from exc
        except OSError as exc:
            raise _write_error(key, exc) from exc

    def _replace_via_temp(
        self, key: str, path: Path, fill: Callable[[Path], None]
    ) -> None:
        """Let ``fill`` write a temp file, then move it over ``path`` at once,
        so readers see the old object or the new one, never a mix."""
        tmp = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            for attempt in range(3):
                try:
                    fill(tmp)
                    break
                except (FileNotFoundError, ObjectNotFound):
                    if attempt == 2 or tmp.parent.is_dir():
                        raise
                    # A concurrent delete pruned the directory between our
                    # mkdir and the write: make it again and retry.
                    self._make_parent(key, path)
            try:
                os.replace(tmp, path)
            except OSError as exc:
                if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                    raise StorageError(
                        f"cannot store {key!r}: it is already a prefix of other keys"
                    ) from exc
                raise _write_error(key, exc) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parents while they are empty."""
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                # Not empty (or already gone, or raced by a writer): stop.
                return
            directory = directory.parent


def _chunks(data: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield data
        return
    while chunk := data.read(CHUNK_SIZE):
        yield chunk


def _write_error(key: str, exc: OSError) -> StorageError:
    return StorageError(f"cannot store {key!r}: {exc.strerror or exc}")


def _is_file(path: Path) -> bool:
    try:
        return stat_mod.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        # Replacing a file gives it a new inode, so this changes on every
        # write without hashing the bytes.
        etag=f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"',
        content_type=mimetypes.guess_type(key)[0],
        last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
    )


def _walk(directory: Path, base: str) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(key, stat)`` for files below ``directory`` in key order."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    # Sorting a directory's children as "name/" makes a depth-first walk
    # come out in plain string order of the full keys ("a-b" < "a/b" < "a0").
    named = sorted(
        (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
        for entry in entries
        if not entry.name.startswith(TEMP_PREFIX)
    )
    for name, entry in named:
        if name.endswith("/"):
            yield from _walk(Path(entry.path), base + name)
        elif entry.is_file(follow_symlinks=False):
            yield base + name, entry.stat(follow_symlinks=False)


def _check_range(start: int | None, end: int | None) -> None:
    if start is not None and start < 0:
        raise ValueError(f"range start must be >= 0, not {start}")
    if end is not None and end < (start or 0):
        raise ValueError(f"range end {end} is before its start {start or 0}")


def _read_range(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = handle.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
