"""Auto-created editions: draft slugs and semver major/minor editions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from keeper.tracking import BuildFacts, draft_slug, get_mode, version_editions_for


@pytest.mark.parametrize(
    ("ref", "alternate", "expected"),
    [
        ("tickets/DM-12345", None, "DM-12345"),
        ("tickets/DM-123", None, "DM-123"),
        ("u/jsick/test", None, "u-jsick-test"),
        ("feature/foo/bar", None, "feature-foo-bar"),
        (
            "dependabot/npm_and_yarn/foo-1.2.3",
            None,
            "dependabot-npm_and_yarn-foo-1.2.3",
        ),
        ("main", None, "main"),
        ("v1.0.0", None, "v1.0.0"),
        ("v2.0.0-rc.1", None, "v2.0.0-rc.1"),
        ("w.2024.05", None, "w.2024.05"),
        ("w_2018_23", None, "w_2018_23"),
        ("fix: the thing!", None, "fix-the-thing"),
        ("feature//double", None, "feature-double"),
        ("a--b", None, "a-b"),
        ("weird..dots", None, "weird.dots"),
        ("-leading-and-trailing-", None, "leading-and-trailing"),
        (".hidden.", None, "hidden"),
        ("__main", None, "main"),
        ("__/x", None, "x"),
        ("_private", None, "private"),
        ("café/ünïcode", None, "caf-n-code"),
        # A "tickets/" prefix is only dropped when a ticket follows it.
        ("tickets/", None, "tickets"),
        ("tickets/DM-123/part-2", None, "DM-123-part-2"),
        ("mytickets/DM-1", None, "mytickets-DM-1"),
        ("main", "subaru", "subaru-main"),
        ("tickets/DM-12345", "subaru", "subaru-DM-12345"),
        ("u/jsick/test", "usdf dev", "usdf-dev-u-jsick-test"),
        ("main", "__x", "x-main"),
        ("main", "", "main"),
    ],
)
def test_draft_slug(ref: str, alternate: str | None, expected: str) -> None:
    assert draft_slug(ref, alternate) == expected


@pytest.mark.parametrize("ref", ["///", "!!!", "...", "__", "-", "ü"])
def test_draft_slug_never_empty_and_stable(ref: str) -> None:
    slug = draft_slug(ref)
    assert re.fullmatch(r"ref-[0-9a-f]{10}", slug)
    assert draft_slug(ref) == slug
    assert draft_slug(ref, "subaru") == f"subaru-{slug}"


def test_draft_slug_fallback_differs_between_refs() -> None:
    assert draft_slug("///") != draft_slug("!!!")


@pytest.mark.parametrize(
    "ref",
    [
        "tickets/DM-12345",
        "__main",
        "_/_/x",
        "../../etc/passwd",
        "feature/ünï/💥",
        " spaced ref ",
        "v1.0.0",
    ],
)
def test_draft_slug_is_url_safe(ref: str) -> None:
    slug = draft_slug(ref)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", slug)
    assert not slug.startswith(("_", "-", "."))
    assert not slug.endswith(("-", "."))
    assert ".." not in slug and "--" not in slug


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (
            "v2.3.1",
            [
                ("2", "semver_major", {"major": 2}),
                ("2.3", "semver_minor", {"major": 2, "minor": 3}),
            ],
        ),
        (
            "1.2.3",
            [
                ("1", "semver_major", {"major": 1}),
                ("1.2", "semver_minor", {"major": 1, "minor": 2}),
            ],
        ),
        (
            "v2.10.0",
            [
                ("2", "semver_major", {"major": 2}),
                ("2.10", "semver_minor", {"major": 2, "minor": 10}),
            ],
        ),
        ("v2.0.0-rc.1", []),
        ("v23.0.0.rc1", []),
        ("v2.0.0.dev1", []),
        ("v1.0", []),
        ("v12_1", []),
        ("main", []),
        ("tickets/DM-12345", []),
        ("dependabot/npm_and_yarn/foo-1.2.3", []),
    ],
)
def test_version_editions_for(
    ref: str, expected: list[tuple[str, str, dict[str, Any]]]
) -> None:
    assert version_editions_for(ref) == expected


@pytest.mark.parametrize("ref", ["v2.3.1", "0.1.0", "v23.0.0"])
def test_version_editions_claim_the_tag_that_created_them(ref: str) -> None:
    build = BuildFacts(git_ref=ref, sequence=1)
    for _slug, mode_name, params in version_editions_for(ref):
        mode = get_mode(mode_name)
        assert mode.validate_params(params) == params
        assert mode.claims(params, build)
        assert mode.should_update(params, build, None)


@pytest.mark.parametrize("alternate", [None, "x" * 100])
def test_draft_slugs_of_long_refs_fit_an_edition_slug(alternate: str | None) -> None:
    """A git ref may have 255 characters; an edition slug 100. Long refs
    keep their start and stay distinct from each other."""
    one = draft_slug("feature/" + "a" * 247, alternate)
    two = draft_slug("feature/" + "a" * 246 + "b", alternate)
    assert len(one) <= 90 and len(two) <= 90
    assert one != two
    assert one.startswith("x" if alternate else "feature-aaaa")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", one)
