"""Exact-ref modes: git_ref, git_refs, alternate_git_ref."""

from __future__ import annotations

from typing import Any

import pytest

from keeper.tracking import BuildFacts, TrackingParamsError, get_mode


def build(
    ref: str,
    seq: int = 1,
    *,
    refs: tuple[str, ...] = (),
    alt: str | None = None,
) -> BuildFacts:
    return BuildFacts(git_ref=ref, sequence=seq, git_refs=refs, alternate_name=alt)


@pytest.mark.parametrize(
    ("params", "b", "expected"),
    [
        ({"git_ref": "main"}, build("main"), True),
        ({"git_ref": "main"}, build("master"), False),
        ({"git_ref": "main"}, build("main", alt="subaru"), False),
        ({"git_ref": "tickets/DM-12345"}, build("tickets/DM-12345"), True),
        ({"git_ref": "tickets/DM-12345"}, build("tickets/DM-1234"), False),
        ({"git_ref": "u/jsick/test"}, build("u/jsick/test"), True),
        ({"git_ref": "v1.0.0"}, build("v1.0.0"), True),
        ({"git_ref": "v1.0.0"}, build("1.0.0"), False),
        ({"git_ref": "Main"}, build("main"), False),
    ],
)
def test_git_ref_claims(params: dict[str, Any], b: BuildFacts, expected: bool) -> None:
    assert get_mode("git_ref").claims(params, b) is expected


@pytest.mark.parametrize(
    ("params", "b", "expected"),
    [
        ({"git_refs": ["main"]}, build("main"), True),
        ({"git_refs": ["main"]}, build("main", refs=("main",)), True),
        ({"git_refs": ["main", "tickets/DM-1"]}, build("main"), False),
        (
            {"git_refs": ["tickets/DM-1", "main"]},
            build("main", refs=("main", "tickets/DM-1")),
            True,
        ),
        (
            {"git_refs": ["main", "tickets/DM-1"]},
            build("main", refs=("main", "tickets/DM-2")),
            False,
        ),
        ({"git_refs": ["main"]}, build("main", refs=("main", "u/jsick/test")), False),
        ({"git_refs": ["main"]}, build("main", alt="subaru"), False),
    ],
)
def test_git_refs_claims(params: dict[str, Any], b: BuildFacts, expected: bool) -> None:
    assert get_mode("git_refs").claims(params, b) is expected


ALT = {"git_ref": "main", "alternate_name": "subaru"}


@pytest.mark.parametrize(
    ("b", "expected"),
    [
        (build("main", alt="subaru"), True),
        (build("main"), False),
        (build("main", alt="usdf"), False),
        (build("tickets/DM-12345", alt="subaru"), False),
    ],
)
def test_alternate_git_ref_claims(b: BuildFacts, expected: bool) -> None:
    assert get_mode("alternate_git_ref").claims(ALT, b) is expected


@pytest.mark.parametrize(
    ("mode", "params", "candidate", "current", "expected"),
    [
        # No current build: any claimed build sets it.
        ("git_ref", {"git_ref": "main"}, build("main", 5), None, True),
        # Newer upload of the same branch moves it.
        ("git_ref", {"git_ref": "main"}, build("main", 6), build("main", 5), True),
        # Stale guard: an older build confirmed late never moves it back.
        ("git_ref", {"git_ref": "main"}, build("main", 4), build("main", 5), False),
        ("git_ref", {"git_ref": "main"}, build("main", 5), build("main", 5), False),
        # Unclaimed candidate never moves it, even if newer.
        ("git_ref", {"git_ref": "main"}, build("master", 9), build("main", 5), False),
        # Edition pointed by hand at another ref: a claimed build takes over,
        # regardless of sequence.
        (
            "git_ref",
            {"git_ref": "main"},
            build("main", 3),
            build("u/jsick/test", 8),
            True,
        ),
        (
            "git_refs",
            {"git_refs": ["main"]},
            build("main", 7),
            build("main", 6),
            True,
        ),
        (
            "git_refs",
            {"git_refs": ["main"]},
            build("main", 6),
            build("main", 7),
            False,
        ),
        ("alternate_git_ref", ALT, build("main", 2, alt="subaru"), None, True),
        (
            "alternate_git_ref",
            ALT,
            build("main", 9, alt="subaru"),
            build("main", 8, alt="subaru"),
            True,
        ),
        (
            "alternate_git_ref",
            ALT,
            build("main", 7, alt="subaru"),
            build("main", 8, alt="subaru"),
            False,
        ),
        (
            "alternate_git_ref",
            ALT,
            build("main", 9),
            build("main", 8, alt="subaru"),
            False,
        ),
    ],
)
def test_exact_ref_should_update(
    mode: str,
    params: dict[str, Any],
    candidate: BuildFacts,
    current: BuildFacts | None,
    expected: bool,
) -> None:
    assert get_mode(mode).should_update(params, candidate, current) is expected


@pytest.mark.parametrize(
    ("mode", "params", "normalised"),
    [
        ("git_ref", {"git_ref": "main"}, {"git_ref": "main"}),
        # Parameters of other modes are dropped rather than carried along.
        ("git_ref", {"git_ref": "main", "major": 2}, {"git_ref": "main"}),
        ("git_refs", {"git_refs": ("main", "dev")}, {"git_refs": ["main", "dev"]}),
        ("alternate_git_ref", ALT, ALT),
    ],
)
def test_validate_params_normalises(
    mode: str, params: dict[str, Any], normalised: dict[str, Any]
) -> None:
    assert get_mode(mode).validate_params(params) == normalised


@pytest.mark.parametrize(
    ("mode", "params", "message"),
    [
        ("git_ref", {}, "'git_ref'"),
        ("git_ref", {"git_ref": ""}, "'git_ref'"),
        ("git_ref", {"git_ref": "  "}, "'git_ref'"),
        ("git_ref", {"git_ref": 3}, "non-empty string"),
        ("git_refs", {}, "'git_refs'"),
        ("git_refs", {"git_refs": "main"}, "list of ref names"),
        ("git_refs", {"git_refs": []}, "non-empty"),
        ("git_refs", {"git_refs": ["main", 1]}, "list of ref names"),
        ("alternate_git_ref", {"git_ref": "main"}, "'alternate_name'"),
        ("alternate_git_ref", {"alternate_name": "subaru"}, "'git_ref'"),
    ],
)
def test_validate_params_errors(
    mode: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(TrackingParamsError, match=mode) as excinfo:
        get_mode(mode).validate_params(params)
    assert message in str(excinfo.value)
