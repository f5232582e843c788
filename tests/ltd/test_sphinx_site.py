"""A real Sphinx build published with `ltd upload`: its ``.doctrees/`` and
``.buildinfo`` stay on the CI runner, the pages reach keeper and readers."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ltd.test_upload import Served, _served, build_id_of

#: Two pages, one in a folder (its URL without a slash is a directory
#: redirect the edge resolves from the manifest).
PAGES = {
    "conf.py": 'project = "Tiny"\nhtml_theme = "alabaster"\n',
    "index.rst": "Home\n====\n\nThe front page.\n\n.. toctree::\n\n   guide/index\n",
    "guide/index.rst": "Guide\n=====\n\nThe second page.\n",
}


def sphinx_build(source: Path, out: Path) -> None:
    """``sphinx-build -b html src out``, as a docs CI job runs it: the
    doctrees land in ``out/.doctrees``."""
    for name, text in PAGES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sphinx-build"), "-b", "html", "-q"]
        + [str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass(frozen=True)
class Built:
    out: Path
    #: Sizes of what must be published, by path.
    published: dict[str, int]
    doctrees: int


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("sphinx")
    out = root / "out"
    sphinx_build(root / "src", out)
    doctrees = [p for p in (out / ".doctrees").rglob("*") if p.is_file()]
    assert doctrees and (out / ".buildinfo").is_file()
    published = {
        p.relative_to(out).as_posix(): p.stat().st_size
        for p in out.rglob("*")
        if p.is_file() and ".doctrees" not in p.parts and p.name != ".buildinfo"
    }
    assert {"index.html", "guide/index.html"} <= set(published)
    return Built(out, published, len(doctrees))


def test_the_build_keeper_records_has_no_doctrees_or_buildinfo(
    built: Built, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    skipped = built.doctrees + 1
    for served in _served("filesystem", request, tmp_path):
        done = served.upload(built.out)
        assert done.returncode == 0, done.stderr
        assert f"(skipped {skipped}); git ref main" in done.stderr
        assert f"; skipped {skipped} files (" in done.stderr
        assert f"): .doctrees/ ({built.doctrees}), .buildinfo (1)\n" in done.stderr
        # Keeper's API lists no build's paths: its count and size of the
        # manifest are exactly those of the pages and assets.
        build = served.build(build_id_of(done.stderr))
        assert build["status"] == "complete"
        assert build["file_count"] == len(built.published)
        assert build["total_size"] == sum(built.published.values())
        assert served.main_build() == build["id"]

        # Asked to, the same command publishes them too.
        again = served.upload(
            built.out, "--include", ".doctrees/", "--include", ".buildinfo"
        )
        assert again.returncode == 0, again.stderr
        assert "skipped" not in again.stderr
        everything = served.build(build_id_of(again.stderr))
        assert everything["file_count"] == len(built.published) + skipped


def test_readers_get_the_pages_and_never_the_leftovers(
    built: Built, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for served in _served("filesystem", request, tmp_path):
        done = served.upload(built.out)
        assert done.returncode == 0, done.stderr

        def get(path: str, served: Served = served) -> tuple[int, str, str]:
            """``path`` from keeper's built-in edge, as a reader asks."""
            r = served.client.get(path, headers={"Host": "pipelines.lsst.io"})
            return r.status_code, r.headers.get("location", ""), r.text

        status, _, body = get("/")
        assert status == 200 and "The front page." in body
        status, _, body = get("/guide/")
        assert status == 200 and "The second page." in body
        # The directory redirect still comes from guide/index.html.
        status, location, _ = get("/guide")
        assert status in (301, 302, 307, 308) and location.endswith("/guide/")
        for path in ("/.buildinfo", "/.doctrees/index.doctree"):
            assert get(path)[0] == 404, path
        for path in built.published:
            assert get(f"/{path}")[0] == 200, path
