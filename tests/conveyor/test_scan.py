"""Scanning a built site: what is described, what is refused and why."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conveyor.errors import BadSite
from conveyor.scan import scan_site


def make(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_every_file_is_described_once_with_its_hash_and_type(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "index.html": b"<h1>hi</h1>",
            "_static/app.js": b"x" * 3_000_000,
            "a/b/c/deep.svg": b"<svg/>",
            "empty.txt": b"",
        },
    )
    site = scan_site(tmp_path)
    assert [f.path for f in site.files] == [
        "_static/app.js",
        "a/b/c/deep.svg",
        "empty.txt",
        "index.html",
    ]
    by_path = site.by_path()
    big = by_path["_static/app.js"]
    assert big.size == 3_000_000
    assert big.sha256 == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert big.content_type == "text/javascript; charset=utf-8"
    assert by_path["a/b/c/deep.svg"].content_type == "image/svg+xml"
    assert by_path["empty.txt"].size == 0
    assert site.total_size == 3_000_000 + 11 + 6


def test_symlinks_inside_the_site_are_followed(tmp_path: Path) -> None:
    make(tmp_path, {"real/page.html": b"<p>page</p>", "real/img.png": b"png"})
    (tmp_path / "alias.html").symlink_to(tmp_path / "real" / "page.html")
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    paths = {f.path: f for f in scan_site(tmp_path).files}
    assert set(paths) == {
        "alias.html",
        "linked/img.png",
        "linked/page.html",
        "real/img.png",
        "real/page.html",
    }
    assert paths["alias.html"].sha256 == paths["real/page.html"].sha256


def test_a_symlink_leaving_the_site_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("token")
    site = tmp_path / "html"
    make(site, {"index.html": b"hi"})
    (site / "leak.txt").symlink_to(outside)
    with pytest.raises(BadSite, match=r"leak\.txt is a symlink to .*outside"):
        scan_site(site)


def test_a_directory_symlink_leaving_the_site_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "html"
    make(site, {"index.html": b"hi"})
    (site / "etc").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(BadSite, match="outside the directory"):
        scan_site(site)


def test_broken_symlinks_and_loops_are_refused(tmp_path: Path) -> None:
    make(tmp_path / "a", {"index.html": b"hi"})
    (tmp_path / "a" / "gone.html").symlink_to(tmp_path / "a" / "nowhere.html")
    with pytest.raises(BadSite, match="broken symlink"):
        scan_site(tmp_path / "a")
    make(tmp_path / "b", {"index.html": b"hi"})
    (tmp_path / "b" / "loop").symlink_to(tmp_path / "b", target_is_directory=True)
    with pytest.raises(BadSite, match="symlink loop"):
        scan_site(tmp_path / "b")


def test_an_empty_or_missing_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(BadSite, match="contains no files"):
        scan_site(tmp_path / "empty")
    with pytest.raises(BadSite, match="does not exist"):
        scan_site(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadSite, match="not a directory"):
        scan_site(tmp_path / "file")


def test_an_unreadable_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, {"index.html": b"hi", "locked.html": b"no"})
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.name == "locked.html":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    # Tests run as root in CI, where chmod 000 does not stop reads.
    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(BadSite, match=r"cannot read .*locked\.html: Permission denied"):
        scan_site(tmp_path)


def test_names_that_cannot_be_urls_are_refused(tmp_path: Path) -> None:
    make(tmp_path, {"index.html": b"hi", "bad\\name.html": b"x"})
    with pytest.raises(BadSite, match="backslash"):
        scan_site(tmp_path)


def test_fifos_and_sockets_are_refused(tmp_path: Path) -> None:
    make(tmp_path, {"index.html": b"hi"})
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(BadSite, match="not a regular file"):
        scan_site(tmp_path)
