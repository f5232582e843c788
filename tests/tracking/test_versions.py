"""Semantic-version modes: semver_release, semver_major, semver_minor."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import Version

from keeper.tracking import BuildFacts, TrackingParamsError, get_mode
from keeper.tracking.versions import parse_semver


def build(ref: str, seq: int = 1, alt: str | None = None) -> BuildFacts:
    return BuildFacts(git_ref=ref, sequence=seq, alternate_name=alt)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("v1.0.0", Version("1.0.0")),
        ("1.2.3", Version("1.2.3")),
        ("v2.10.0", Version("2.10.0")),
        ("v23.0.0", Version("23.0.0")),
        ("v2.0.0-rc.1", None),
        ("v2.0.0rc1", None),
        ("v2.0.0.dev1", None),
        ("v23.0.0.rc1", None),
        ("v1.2.3+local", None),
        ("v1.2", None),
        ("v1.2.3.4", None),
        ("main", None),
        ("V1.2.3", None),
        ("dependabot/npm_and_yarn/foo-1.2.3", None),
        ("release/1.2.3", None),
        ("v12_1", None),
        ("w.2024.05", None),
    ],
)
def test_parse_semver(ref: str, expected: Version | None) -> None:
    assert parse_semver(ref) == expected


@pytest.mark.parametrize(
    ("mode", "params", "ref", "expected"),
    [
        ("semver_release", {}, "v1.0.0", True),
        ("semver_release", {}, "1.2.3", True),
        ("semver_release", {}, "v2.0.0-rc.1", False),
        ("semver_release", {}, "v2.0.0rc1", False),
        ("semver_release", {}, "v2.0.0.dev1", False),
        ("semver_release", {}, "v23.0.0.rc1", False),
        ("semver_release", {}, "main", False),
        ("semver_release", {}, "dependabot/npm_and_yarn/foo-1.2.3", False),
        ("semver_major", {"major": 2}, "v2.9.3", True),
        ("semver_major", {"major": 2}, "2.10.0", True),
        ("semver_major", {"major": 2}, "v20.0.0", False),
        ("semver_major", {"major": 2}, "v1.9.9", False),
        ("semver_major", {"major": 2}, "v2.0.0-rc.1", False),
        # Params stored as strings still work.
        ("semver_major", {"major": "2"}, "v2.1.0", True),
        ("semver_minor", {"major": 2, "minor": 3}, "v2.3.1", True),
        ("semver_minor", {"major": 2, "minor": 3}, "2.3.0", True),
        ("semver_minor", {"major": 2, "minor": 3}, "v2.30.0", False),
        ("semver_minor", {"major": 2, "minor": 3}, "v2.4.0", False),
        ("semver_minor", {"major": 2, "minor": 3}, "v3.3.0", False),
        ("semver_minor", {"major": 2, "minor": 3}, "v2.3.2rc1", False),
    ],
)
def test_claims(mode: str, params: dict[str, Any], ref: str, expected: bool) -> None:
    assert get_mode(mode).claims(params, build(ref)) is expected


@pytest.mark.parametrize("mode", ["semver_release", "semver_major", "semver_minor"])
def test_alternate_deployment_builds_are_not_claimed(mode: str) -> None:
    params = {"major": 2, "minor": 3}
    assert get_mode(mode).claims(params, build("v2.3.1")) is True
    assert get_mode(mode).claims(params, build("v2.3.1", alt="subaru")) is False


@pytest.mark.parametrize(
    ("mode", "params", "candidate", "current", "expected"),
    [
        ("semver_release", {}, build("v1.0.0", 1), None, True),
        ("semver_release", {}, build("v2.0.0-rc.1", 1), None, False),
        # Versions compare as versions, not strings.
        ("semver_release", {}, build("v2.10.0", 2), build("v2.9.3", 1), True),
        ("semver_release", {}, build("v2.9.3", 9), build("v2.10.0", 1), False),
        ("semver_release", {}, build("1.2.3", 5), build("v1.2.2", 4), True),
        # A release candidate uploaded later never replaces a release.
        ("semver_release", {}, build("v3.0.0rc1", 9), build("v2.10.0", 1), False),
        # Equal version: a re-upload (newer sequence) wins, a stale one doesn't.
        ("semver_release", {}, build("v2.10.0", 7), build("v2.10.0", 6), True),
        ("semver_release", {}, build("v2.10.0", 5), build("v2.10.0", 6), False),
        ("semver_release", {}, build("v2.10.0", 6), build("v2.10.0", 6), False),
        # "1.2.3" and "v1.2.3" are the same version.
        ("semver_release", {}, build("1.2.3", 7), build("v1.2.3", 6), True),
        # Higher version wins even if it was registered earlier (backfill).
        ("semver_release", {}, build("v2.10.0", 1), build("v2.9.3", 8), True),
        # Edition moved by hand onto a branch: a release takes over.
        ("semver_release", {}, build("v1.0.0", 1), build("main", 9), True),
        ("semver_major", {"major": 2}, build("v2.10.0", 3), build("v2.9.3", 2), True),
        ("semver_major", {"major": 2}, build("v3.0.0", 4), build("v2.9.3", 2), False),
        ("semver_major", {"major": 2}, build("v2.1.0", 4), build("v2.9.3", 2), False),
        (
            "semver_minor",
            {"major": 2, "minor": 3},
            build("v2.3.10", 4),
            build("v2.3.9", 2),
            True,
        ),
        (
            "semver_minor",
            {"major": 2, "minor": 3},
            build("v2.3.1", 4),
            build("v2.3.2", 2),
            False,
        ),
        (
            "semver_minor",
            {"major": 2, "minor": 3},
            build("v2.4.0", 4),
            build("v2.3.2", 2),
            False,
        ),
    ],
)
def test_should_update(
    mode: str,
    params: dict[str, Any],
    candidate: BuildFacts,
    current: BuildFacts | None,
    expected: bool,
) -> None:
    assert get_mode(mode).should_update(params, candidate, current) is expected


def test_semver_release_follows_the_highest_across_a_realistic_history() -> None:
    mode = get_mode("semver_release")
    history = [
        "v1.0.0",
        "main",
        "v2.0.0-rc.1",
        "v2.9.3",
        "v2.10.0",
        "v2.9.4",
        "v23.0.0.rc1",
        "tickets/DM-12345",
    ]
    current: BuildFacts | None = None
    for seq, ref in enumerate(history, start=1):
        candidate = build(ref, seq)
        if mode.should_update({}, candidate, current):
            current = candidate
    assert current == build("v2.10.0", 5)


@pytest.mark.parametrize(
    ("mode", "params", "normalised"),
    [
        ("semver_release", {"junk": 1}, {}),
        ("semver_major", {"major": 2}, {"major": 2}),
        ("semver_major", {"major": "2"}, {"major": 2}),
        ("semver_major", {"major": " 12 "}, {"major": 12}),
        ("semver_minor", {"major": "2", "minor": 3}, {"major": 2, "minor": 3}),
        ("semver_minor", {"major": 0, "minor": 0}, {"major": 0, "minor": 0}),
    ],
)
def test_validate_params_normalises(
    mode: str, params: dict[str, Any], normalised: dict[str, Any]
) -> None:
    assert get_mode(mode).validate_params(params) == normalised


@pytest.mark.parametrize(
    ("mode", "params", "message"),
    [
        ("semver_major", {}, "'major'"),
        ("semver_major", {"major": None}, "'major'"),
        ("semver_major", {"major": "two"}, "whole number"),
        ("semver_major", {"major": 2.5}, "whole number"),
        ("semver_major", {"major": True}, "whole number"),
        ("semver_major", {"major": "²"}, "whole number"),
        ("semver_major", {"major": -1}, ">= 0"),
        ("semver_minor", {"major": 2}, "'minor'"),
        ("semver_minor", {"minor": 3}, "'major'"),
        ("semver_minor", {"major": 2, "minor": "3.1"}, "whole number"),
    ],
)
def test_validate_params_errors(
    mode: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(TrackingParamsError, match=mode) as excinfo:
        get_mode(mode).validate_params(params)
    assert message in str(excinfo.value)


def test_claims_with_bad_stored_params_raises_clear_error() -> None:
    with pytest.raises(TrackingParamsError, match="'major'"):
        get_mode("semver_major").claims({}, build("v2.0.0"))
