"""keeper.domain.paths: the paths a build may hold, as pure rules."""

from __future__ import annotations

import pytest

from keeper.domain.limits import MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_SEGMENT_BYTES
from keeper.domain.paths import PathError, check_path, check_paths_together

ACCEPTED = [
    "index.html",
    "_static/pygments.css",
    "search index.js",
    "日本語/ページ.html",
    "a" * MAX_SEGMENT_BYTES,
    "/".join(["x"] * (MAX_PATH_DEPTH + 1)),
    "/".join(["d" * 250] * 3),  # 752 bytes
    "100%.html",
    "%41%42.html",  # decodes to letters: harmless
    "...",
    ".hidden",
    "a..b.html",
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_paths_a_build_may_hold(path: str) -> None:
    assert check_path(path) == path


REFUSED = {
    "": "empty",
    "\u00e9" * 128: "MAX_SEGMENT_BYTES",
    "/".join(["d" * 255] * 4): "MAX_PATH_BYTES",
    "/".join(["x"] * (MAX_PATH_DEPTH + 2)): "MAX_PATH_DEPTH",
    "a/./b": "'.' segment",
    "a/..": "'..' segment",
    "a//b": "empty segment",
    "a/": "empty segment",
    "/a": "absolute",
    "a\\b": "backslash",
    "a\tb": "control character",
    "a\x7fb": "control character",
    "a\u0085b": "control character",
    "\ud800": "not valid Unicode",
    "%2E%2E": "percent-decodes",
    "%2e.": "percent-decodes",
    "%25252e%25252e": "percent-decodes",  # three rounds of decoding
    "a%2Fb": "percent-decodes",
    "a%5Cb": "percent-decodes",
    "a%0Ab": "percent-decodes",
    ".keeper-tmp-": "reserved",
}


@pytest.mark.parametrize("path", sorted(REFUSED), ids=repr)
def test_paths_refused_name_the_rule(path: str) -> None:
    with pytest.raises(PathError, match=REFUSED[path]):
        check_path(path)


def test_a_long_path_is_cut_short_in_the_message() -> None:
    path = "d" * (MAX_PATH_BYTES + 500)
    with pytest.raises(PathError) as caught:
        check_path(path)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("paths", "phrase"),
    [
        (["a.html", "a.html"], "repeated"),
        (["caf\u00e9.html", "cafe\u0301.html"], "NFC"),
        (["q", "q/y.html"], "'q'"),
        (["a/b/c.html", "a/b"], "'a/b'"),
        # OHM SIGN is GREEK CAPITAL OMEGA after normalisation.
        (["\u2126", "\u03a9/x"], "files named like a folder"),
    ],
)
def test_paths_that_cannot_live_together(paths: list[str], phrase: str) -> None:
    with pytest.raises(PathError, match=phrase):
        check_paths_together(paths)


def test_paths_that_can_live_together() -> None:
    check_paths_together(["q.html", "q/y.html", "a-b", "a/b", "a0", "A/b.html"])
