"""Behaviour only the folder-backed store has: files, links, directories."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

from keeper.storage import FilesystemStore, InvalidKey, StorageError
from keeper.storage.filesystem import TEMP_PREFIX


@pytest.fixture
def fs(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "objects")


def temp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_objects_are_plain_files_under_root(fs: FilesystemStore) -> None:
    fs.put("org/product/builds/1/index.html", b"<html>")

    assert (fs.root / "org/product/builds/1/index.html").read_bytes() == b"<html>"


def test_root_is_created(tmp_path: Path) -> None:
    FilesystemStore(tmp_path / "new" / "deep")

    assert (tmp_path / "new" / "deep").is_dir()


# -- a key cannot also be a prefix (the limitation rclone shares) ----------------


def test_an_object_cannot_become_a_prefix(fs: FilesystemStore) -> None:
    """``a`` is an object, so ``a/b.html`` has nowhere to go."""
    fs.put("a", b"the object")

    with pytest.raises(StorageError, match="already an object"):
        fs.put("a/b.html", b"child")

    assert fs.get("a") == b"the object"
    assert [i.key for i in fs.list()] == ["a"]
    assert temp_leftovers(fs.root) == []


def test_a_prefix_cannot_become_an_object(fs: FilesystemStore) -> None:
    """``a/`` holds objects, so an object ``a`` would have to replace them."""
    fs.put("a/b.html", b"child")

    with pytest.raises(StorageError, match="prefix of other keys"):
        fs.put("a", b"the object")

    assert fs.get("a/b.html") == b"child"
    assert [i.key for i in fs.list()] == ["a/b.html"]
    assert temp_leftovers(fs.root) == []


def test_copy_onto_a_prefix_is_refused_too(fs: FilesystemStore) -> None:
    fs.put("src", b"x")
    fs.put("a/b.html", b"child")

    with pytest.raises(StorageError):
        fs.copy("src", "a")

    assert fs.get("a/b.html") == b"child"
    assert temp_leftovers(fs.root) == []


# -- atomic writes -----------------------------------------------------------------


class FailingStream(io.RawIOBase):
    """Gives some bytes, then breaks, like a dropped upload."""

    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.sent:
            raise ConnectionError("client went away")
        self.sent = True
        buffer[:4] = b"half"
        return 4


def test_a_failed_write_leaves_the_old_object(fs: FilesystemStore) -> None:
    fs.put("page.html", b"complete old version")

    with pytest.raises(ConnectionError):
        fs.put("page.html", FailingStream())  # type: ignore[arg-type]

    assert fs.get("page.html") == b"complete old version"
    assert temp_leftovers(fs.root) == []


def test_temp_files_are_never_listed(fs: FilesystemStore) -> None:
    fs.put("dir/real.html", b"x")
    (fs.root / "dir" / f"{TEMP_PREFIX}in-flight").write_bytes(b"partial")

    assert [i.key for i in fs.list()] == ["dir/real.html"]


def test_temp_names_are_reserved(fs: FilesystemStore) -> None:
    with pytest.raises(InvalidKey):
        fs.put(f"dir/{TEMP_PREFIX}x", b"x")


def test_overwrite_changes_the_etag_even_with_equal_size(fs: FilesystemStore) -> None:
    fs.put("a.txt", b"aaaa")
    first = fs.stat("a.txt")
    fs.put("a.txt", b"bbbb")

    second, again = fs.stat("a.txt"), fs.stat("a.txt")
    assert first is not None and second is not None and again is not None
    assert first.etag != second.etag
    assert second.etag == again.etag


# -- copies ---------------------------------------------------------------------


def test_copy_hard_links_when_it_can(fs: FilesystemStore) -> None:
    fs.put("builds/1/a.html", b"immutable")

    fs.copy("builds/1/a.html", "builds/2/a.html")

    src = (fs.root / "builds/1/a.html").stat()
    dst = (fs.root / "builds/2/a.html").stat()
    assert src.st_ino == dst.st_ino
    assert dst.st_nlink == 2


def test_copy_falls_back_to_copying_bytes(
    fs: FilesystemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.put("builds/1/a.html", b"immutable")

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    fs.copy("builds/1/a.html", "builds/2/a.html")

    assert fs.get("builds/2/a.html") == b"immutable"
    src = (fs.root / "builds/1/a.html").stat()
    dst = (fs.root / "builds/2/a.html").stat()
    assert src.st_ino != dst.st_ino


# -- directories -----------------------------------------------------------------


def test_delete_prunes_emptied_directories(fs: FilesystemStore) -> None:
    fs.put("org/p/builds/1/deep/a.html", b"x")
    fs.put("org/p/keep.html", b"x")

    fs.delete("org/p/builds/1/deep/a.html")

    assert not (fs.root / "org/p/builds").exists()
    assert (fs.root / "org/p/keep.html").is_file()
    assert fs.root.is_dir()


def test_delete_prefix_prunes_emptied_directories(fs: FilesystemStore) -> None:
    for name in ("b/1/x/a", "b/1/y/b", "b/1/c", "b/2/d"):
        fs.put(name, b"x")

    assert fs.delete_prefix("b/1/") == 3

    assert sorted(p.relative_to(fs.root).as_posix() for p in fs.root.rglob("*")) == [
        "b",
        "b/2",
        "b/2/d",
    ]
    assert fs.delete_prefix("") == 1
    assert list(fs.root.iterdir()) == []


def test_deleting_a_directory_key_removes_nothing(fs: FilesystemStore) -> None:
    fs.put("dir/a.html", b"x")

    fs.delete("dir")

    assert fs.get("dir/a.html") == b"x"


# -- escaping the root ----------------------------------------------------------------


def test_a_symlink_out_of_root_is_not_followed(
    fs: FilesystemStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (fs.root / "link").symlink_to(outside)

    with pytest.raises(InvalidKey):
        fs.get("link/secret.txt")
    with pytest.raises(InvalidKey):
        fs.put("link/planted.txt", b"x")
    assert not (outside / "planted.txt").exists()
    assert [i.key for i in fs.list()] == []


def test_presign_is_unsupported(fs: FilesystemStore) -> None:
    assert fs.supports_presigned_put is False
    with pytest.raises(NotImplementedError, match="signed PUT"):
        fs.presign_put("a.html", content_type="text/html", expires_in=60)


def test_content_type_is_guessed_from_the_key(fs: FilesystemStore) -> None:
    fs.put("style.css", b"body{}", content_type="application/x-ignored")
    fs.put("noext", b"x")

    css = fs.stat("style.css")
    other = fs.stat("noext")
    assert css is not None and css.content_type == "text/css"
    assert other is not None and other.content_type is None


def test_a_write_survives_a_concurrent_prune_of_its_directory(
    fs: FilesystemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """delete("d/x") may prune "d" just after put("d/y") created it."""
    real = FilesystemStore._make_parent
    pruned: list[Path] = []

    def make_then_lose(self: FilesystemStore, key: str, path: Path) -> None:
        real(self, key, path)
        if path.parent not in pruned:  # only the first time, like a race
            path.parent.rmdir()
            pruned.append(path.parent)

    monkeypatch.setattr(FilesystemStore, "_make_parent", make_then_lose)

    fs.put("d/y.html", b"kept")
    fs.copy("d/y.html", "e/z.html")

    assert pruned == [fs.root / "d", fs.root / "e"]
    assert fs.get("d/y.html") == b"kept"
    assert fs.get("e/z.html") == b"kept"
