"""Walk a built site once: path, size, sha256 and content type of each file."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conveyor.errors import BadSite
from conveyor.selection import Selection, SkippedFile, describe_skipped
from keeper.domain.content_types import content_type_for

#: hashlib releases the GIL on large buffers, so threads hash in parallel.
_HASH_WORKERS = min(8, (os.cpu_count() or 2) * 2)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    path: str  # relative, with forward slashes: the key inside the build
    source: Path
    size: int
    sha256: str
    #: Lets keeper verify uploads from the store's listing (S3 ETags are the
    #: MD5 of single-part objects) instead of reading every object back.
    md5: str
    content_type: str

    def manifest_entry(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "md5": self.md5,
            "content_type": self.content_type,
        }


@dataclass(frozen=True)
class Site:
    root: Path
    #: What is published: the manifest keeper receives.
    files: list[LocalFile]
    #: What the selection left out (never read, never in the manifest).
    skipped: tuple[SkippedFile, ...] = ()

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, LocalFile]:
        return {f.path: f for f in self.files}


def scan_site(directory: Path | str, selection: Selection | None = None) -> Site:
    """Describe every file under ``directory`` that ``selection`` publishes
    (by default: all but Sphinx's ``.doctrees/`` and ``.buildinfo``; see
    :mod:`conveyor.selection`); list the rest in :attr:`Site.skipped`.

    Symlinks are followed while they stay inside the directory; one that
    leads outside is refused, since publishing would copy whatever it points
    at (a CI runner's home, a secret) into a public site. Skipped files are
    only counted, never read, but these checks apply to them too.
    """
    if selection is None:
        selection = Selection.build()
    root = Path(directory)
    if not root.exists():
        raise BadSite(f"{root} does not exist")
    if not root.is_dir():
        raise BadSite(f"{root} is not a directory")
    real_root = root.resolve()
    found = sorted(_walk(real_root, root, "", frozenset()), key=lambda f: f[0])
    published: list[tuple[str, Path]] = []
    skipped: list[SkippedFile] = []
    for path, source, size in found:
        reason = selection.skip_reason(path)
        if reason is None:
            published.append((path, source))
        else:
            skipped.append(SkippedFile(path, size, reason))
    if not published:
        if skipped:
            raise BadSite(
                f"{root} has nothing to publish: {describe_skipped(skipped)}; "
                "is this the built site? (--include publishes a skipped path)"
            )
        raise BadSite(f"{root} contains no files; is this the built site?")
    with ThreadPoolExecutor(_HASH_WORKERS) as pool:
        files = list(pool.map(lambda item: _describe(*item), published))
    return Site(root=root, files=files, skipped=tuple(skipped))


def _walk(
    real_root: Path, shown: Path, rel: str, ancestors: frozenset[Path]
) -> Iterator[tuple[str, Path, int]]:
    here = (real_root / rel).resolve() if rel else real_root
    if here in ancestors:
        raise BadSite(f"{shown / rel} is a symlink loop")
    ancestors = ancestors | {here}
    try:
        entries = sorted(os.scandir(here), key=lambda e: e.name)
    except PermissionError as exc:
        raise BadSite(f"cannot read directory {shown / rel}: {exc.strerror}") from exc
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        _check_name(shown, path)
        if entry.is_symlink():
            target = Path(os.path.realpath(entry.path))
            if not target.is_relative_to(real_root):
                raise BadSite(
                    f"{shown / path} is a symlink to {target}, outside the "
                    "directory being published; copy the file in or remove it"
                )
            if not target.exists():
                raise BadSite(f"{shown / path} is a broken symlink")
        try:
            info = os.stat(entry.path)
        except OSError as exc:
            raise BadSite(f"cannot read {shown / path}: {exc.strerror}") from exc
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(real_root, shown, path, ancestors)
        elif stat.S_ISREG(info.st_mode):
            yield path, Path(entry.path), info.st_size
        else:
            raise BadSite(f"{shown / path} is not a regular file")


def _check_name(shown: Path, path: str) -> None:
    # Keys are URLs on the edge: a backslash or control character would be
    # read differently by browsers, CDNs and object stores.
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise BadSite(
            f"{shown / path!r} has a backslash or control character in its "
            "name, which cannot be published; rename it"
        )


def _describe(path: str, source: Path) -> LocalFile:
    digest = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with source.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                md5.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise BadSite(f"cannot read {source}: {exc.strerror or exc}") from exc
    return LocalFile(
        path=path,
        source=source,
        size=size,
        sha256=digest.hexdigest(),
        md5=md5.hexdigest(),
        content_type=content_type_for(path),
    )
