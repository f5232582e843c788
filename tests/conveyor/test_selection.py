"""What gets published: the default skips (Sphinx's .doctrees/ and
.buildinfo), --exclude and --include globs, what the scan and the manifest
leave out, and how the summary names it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.client import KeeperClient
from conveyor.errors import BadPattern, BadSite
from conveyor.scan import scan_site
from conveyor.selection import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    Selection,
    SkippedFile,
    compile_pattern,
    describe_skipped,
)
from conveyor.upload import UploadResult, upload_site
from tests.conveyor.test_scan import make

#: A Sphinx build's output (``sphinx-build -b html src out``), nested parts
#: included.
SPHINX_LIKE = {
    "index.html": b"<h1>home</h1>",
    "guide/index.html": b"<h1>guide</h1>",
    "_static/app.js": b"console.log(1)",
    "_static/app.js.map": b"{}" * 50,
    "objects.inv": b"inv",
    ".buildinfo": b"# Sphinx build info\nconfig: 0123\n",
    ".doctrees/environment.pickle": b"p" * 1000,
    ".doctrees/index.doctree": b"d" * 200,
    ".doctrees/guide/index.doctree": b"d" * 300,
}


def skips(exclude: list[str], include: list[str], path: str) -> bool:
    return Selection.build(exclude, include).skip_reason(path) is not None


# -- the glob rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "skipped", "published"),
    [
        # Without '/': a file or folder name at any depth.
        ("*.map", ["a.js.map", "_static/x/y.css.map"], ["a.js", "map", "a.map.js"]),
        ("drafts", ["drafts", "drafts/a.html", "x/drafts/b/c.html"], ["drafts.html"]),
        # A trailing '/': folders only, at any depth.
        ("drafts/", ["drafts/a.html", "x/drafts/b.html"], ["drafts", "x/drafts"]),
        # A '/' inside: from the root, a matched folder with all it holds.
        ("api/gen", ["api/gen", "api/gen/a.html"], ["x/api/gen/a.html", "api/gene"]),
        ("/robots.txt", ["robots.txt"], ["sub/robots.txt"]),
        ("api/*.html", ["api/a.html"], ["api/v1/a.html", "x/api/a.html"]),
        # '**' spans folders, including none.
        ("drafts/**", ["drafts/a.html", "drafts/b/c.html"], ["x/drafts/a.html"]),
        ("docs/**/*.txt", ["docs/a.txt", "docs/x/y/a.txt"], ["a.txt", "docs/a.html"]),
        ("**/gen/*.js", ["gen/a.js", "x/y/gen/a.js"], ["gen/a.css", "xgen/a.js"]),
        ("a/**/b/**/c", ["a/b/c", "a/1/b/2/c/3.html"], ["a/c/b", "b/a/c"]),
        # '*' and '?' stay within a name; sets and negated sets.
        ("_static/*.js", ["_static/a.js"], ["_static/x/a.js"]),
        ("page?.html", ["page1.html", "x/pageA.html"], ["page10.html", "page.html"]),
        ("[!a]x.css", ["bx.css"], ["ax.css"]),
        ("v[0-9].html", ["v3.html"], ["vx.html"]),
        ("*a*b*", ["ab", "xaxbx"], ["ba"]),
        # Case-sensitive, as URLs are.
        ("*.MAP", ["a.MAP"], ["a.map"]),
    ],
)
def test_globs(pattern: str, skipped: list[str], published: list[str]) -> None:
    selection = Selection.build([pattern], defaults=False)
    for path in skipped:
        assert selection.skip_reason(path) is not None, path
    for path in published:
        assert selection.skip_reason(path) is None, path


def test_sphinx_leftovers_are_skipped_by_default_at_any_depth() -> None:
    selection = Selection.build()
    assert selection.skip_reason(".doctrees/environment.pickle") == ".doctrees/"
    assert selection.skip_reason("en/.doctrees/index.doctree") == ".doctrees/"
    assert selection.skip_reason(".buildinfo") == ".buildinfo"
    assert selection.skip_reason("en/.buildinfo") == ".buildinfo"
    # Only a folder called .doctrees, and only the exact .buildinfo name.
    for path in (".doctrees", "a.doctrees", ".buildinfo.html", "index.html"):
        assert selection.skip_reason(path) is None, path
    assert Selection.everything().skip_reason(".doctrees/index.doctree") is None
    assert Selection.build(defaults=False).skip_reason(".buildinfo") is None


def test_an_include_wins_over_defaults_and_excludes_and_never_narrows() -> None:
    assert not skips([], [".buildinfo"], ".buildinfo")
    assert skips([], [".buildinfo"], ".doctrees/index.doctree")
    # Both spellings turn the .doctrees default off.
    assert not skips([], [".doctrees/"], "en/.doctrees/index.doctree")
    assert not skips([], [".doctrees/**"], ".doctrees/index.doctree")
    # An include beats an exclude of the same or a wider scope.
    assert not skips(["*.map"], ["_static/keep.js.map"], "_static/keep.js.map")
    assert skips(["*.map"], ["_static/keep.js.map"], "_static/other.js.map")
    assert not skips(["drafts/"], ["drafts/ready/"], "drafts/ready/a.html")
    assert skips(["drafts/"], ["drafts/ready/"], "drafts/wip/a.html")
    # A file no exclude matches is published whatever the includes say.
    assert not skips([], ["*.html"], "style.css")


def test_the_first_matching_exclude_names_the_reason() -> None:
    selection = Selection.build(["*.pickle", "drafts/"])
    assert selection.skip_reason(".doctrees/env.pickle") == ".doctrees/"
    assert selection.skip_reason("drafts/a.pickle") == "--exclude '*.pickle'"
    assert selection.skip_reason("drafts/a.html") == "--exclude drafts/"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty pattern"),
        ("   ", "empty pattern"),
        ("x" * (MAX_PATTERN_LENGTH + 1), f"at most {MAX_PATTERN_LENGTH}"),
        ("drafts\\*.html", "backslash"),
        ("a//b", "empty, '.' or '..' part"),
        ("./drafts", "empty, '.' or '..' part"),
        ("../secret", "empty, '.' or '..' part"),
        ("/", "empty, '.' or '..' part"),
        ("[z-a].html", "not a valid glob"),
        ("a\nb", "control character"),
    ],
)
def test_unusable_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(BadPattern, match=message):
        Selection.build([pattern])
    with pytest.raises(BadPattern, match=message):
        Selection.build(include=[pattern])


def test_the_longest_pattern_allowed_and_the_most_patterns_allowed_work() -> None:
    compile_pattern("x" * MAX_PATTERN_LENGTH)
    many = [f"p{i}.html" for i in range(MAX_PATTERNS)]
    assert Selection.build(many, many).skip_reason("p99.html") is None
    with pytest.raises(BadPattern, match=r"--exclude was given 101 times"):
        Selection.build([*many, "one-more"])
    with pytest.raises(BadPattern, match=r"--include was given 101 times"):
        Selection.build(include=[*many, "one-more"])


def test_a_pathological_pattern_answers_at_once() -> None:
    # Naive glob-to-regex translations backtrack exponentially on these.
    patterns = ["*a" * 500, "/" + "**/a/" * 200 + "b"]
    paths = ["a" * 250 + "c", "/".join(["a"] * 80) + "/c"]
    started = time.monotonic()
    for pattern in patterns:
        regex = compile_pattern(pattern[:MAX_PATTERN_LENGTH])
        for path in paths:
            assert regex.search(path) is None
    assert time.monotonic() - started < 1.0


# -- the scan, the manifest, the summary -------------------------------------


def test_the_scan_leaves_skipped_files_out_and_never_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, SPHINX_LIKE)
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        assert ".doctrees" not in self.parts and self.name != ".buildinfo", self
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    site = scan_site(tmp_path, Selection.build(["*.map"]))
    assert [f.path for f in site.files] == [
        "_static/app.js",
        "guide/index.html",
        "index.html",
        "objects.inv",
    ]
    assert site.skipped == (
        SkippedFile(".buildinfo", len(SPHINX_LIKE[".buildinfo"]), ".buildinfo"),
        SkippedFile(".doctrees/environment.pickle", 1000, ".doctrees/"),
        SkippedFile(".doctrees/guide/index.doctree", 300, ".doctrees/"),
        SkippedFile(".doctrees/index.doctree", 200, ".doctrees/"),
        SkippedFile("_static/app.js.map", 100, "--exclude '*.map'"),
    )


def test_the_scan_skips_the_defaults_unless_told_otherwise(tmp_path: Path) -> None:
    make(tmp_path, SPHINX_LIKE)
    default = {f.path for f in scan_site(tmp_path).files}
    assert default == {p for p in SPHINX_LIKE if not p.startswith(".")}
    everything = scan_site(tmp_path, Selection.everything())
    assert {f.path for f in everything.files} == set(SPHINX_LIKE)
    assert everything.skipped == ()
    undone = scan_site(tmp_path, Selection.build(include=[".doctrees/", ".buildinfo"]))
    assert {f.path for f in undone.files} == set(SPHINX_LIKE)


def test_a_site_whose_every_file_is_skipped_says_why(tmp_path: Path) -> None:
    make(tmp_path, {".doctrees/index.doctree": b"d", ".buildinfo": b"b"})
    with pytest.raises(BadSite, match=r"nothing to publish: skipped 2 files"):
        scan_site(tmp_path)


def test_the_summary_names_each_rule_with_its_count() -> None:
    skipped = (
        [
            SkippedFile(f".doctrees/{i}.doctree", 37_500, ".doctrees/")
            for i in range(120)
        ]
        + [SkippedFile(".buildinfo", 230, ".buildinfo")]
        + [SkippedFile(f"{i}.js.map", 100, "--exclude '*.map'") for i in range(2)]
    )
    assert describe_skipped(skipped) == (
        "skipped 123 files (4.5 MB): .doctrees/ (120), --exclude '*.map' (2), "
        ".buildinfo (1)"
    )
    assert describe_skipped([SkippedFile(".buildinfo", 5, ".buildinfo")]) == (
        "skipped 1 file (5 B): .buildinfo (1)"
    )
    assert describe_skipped([]) == ""
    result = UploadResult(build={"id": "b1"}, files_sent=3, bytes_sent=2000)
    assert result.summary() == "build b1: sent 3 files (2.0 KB), reused 0, 0.0s"
    result.skipped = tuple(skipped)
    assert result.summary() == (
        "build b1: sent 3 files (2.0 KB), reused 0, 0.0s; skipped 123 files "
        "(4.5 MB): .doctrees/ (120), --exclude '*.map' (2), .buildinfo (1)"
    )


def test_the_manifest_sent_to_keeper_has_no_skipped_file(tmp_path: Path) -> None:
    make(tmp_path, SPHINX_LIKE)
    sent: list[dict[str, Any]] = []

    def keeper(request: httpx.Request) -> httpx.Response:
        build = {"id": "b1", "status": "pending"}
        if request.method == "POST":
            sent.append(json.loads(request.content))
            return httpx.Response(201, json={**build, "uploads": [], "reused": 4})
        assert request.method == "PATCH"
        return httpx.Response(202, json={**build, "status": "processing"})

    site = scan_site(tmp_path, Selection.build(["*.map"], ["objects.inv"]))
    with KeeperClient("http://keeper", "t", transport=httpx.MockTransport(keeper)) as c:
        result = upload_site(
            c, site, org="lsst", product="pipelines", git_ref="main", wait=False
        )
    [body] = sent
    assert sorted(e["path"] for e in body["manifest"]) == [
        "_static/app.js",
        "guide/index.html",
        "index.html",
        "objects.inv",
    ]
    assert result.summary().endswith(
        "; skipped 5 files (1.6 KB): .doctrees/ (3), .buildinfo (1), "
        "--exclude '*.map' (1)"
    )
