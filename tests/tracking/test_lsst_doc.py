"""The lsst_doc mode: main until the first version tag, then the highest tag."""

from __future__ import annotations

import pytest

from keeper.tracking import BuildFacts, get_mode

MODE = get_mode("lsst_doc")


def build(ref: str, seq: int = 1, alt: str | None = None) -> BuildFacts:
    return BuildFacts(git_ref=ref, sequence=seq, alternate_name=alt)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("main", True),
        ("master", True),
        ("v1.0", True),
        ("v1.0.0", True),
        ("v2.10", True),
        ("1.0", False),
        ("v1", False),
        ("v1.0.0.1", False),
        ("v1.0rc1", False),
        ("tickets/DM-12345", False),
        ("u/jsick/test", False),
        ("w.2024.05", False),
        ("dependabot/npm_and_yarn/foo-1.2.3", False),
    ],
)
def test_claims(ref: str, expected: bool) -> None:
    assert MODE.claims({}, build(ref)) is expected


def test_alternate_deployment_builds_are_not_claimed() -> None:
    assert MODE.claims({}, build("main", alt="subaru")) is False


@pytest.mark.parametrize(
    ("candidate", "current", "expected"),
    [
        (build("main", 1), None, True),
        (build("master", 1), None, True),
        (build("main", 2), build("main", 1), True),
        (build("main", 1), build("main", 2), False),
        # A repo renamed master -> main keeps publishing its newest build.
        (build("main", 3), build("master", 2), True),
        # First tag moves off main even if main has a newer sequence.
        (build("v1.0", 3), build("main", 5), True),
        # Once on a tag, main never moves it back.
        (build("main", 9), build("v1.0", 3), False),
        (build("master", 9), build("v1.0", 3), False),
        (build("v1.1", 4), build("v1.0", 3), True),
        (build("v1.10", 4), build("v1.9", 3), True),
        (build("v1.9", 6), build("v1.10", 3), False),
        (build("v2.0.1", 6), build("v2.0", 3), True),
        # v1.0 and v1.0.0 are the same version: newest upload wins.
        (build("v1.0.0", 6), build("v1.0", 3), True),
        (build("v1.0", 2), build("v1.0", 3), False),
        (build("tickets/DM-12345", 9), build("main", 3), False),
        # Set by hand to a ticket branch: the next main build takes over.
        (build("main", 2), build("tickets/DM-12345", 9), True),
    ],
)
def test_should_update(
    candidate: BuildFacts, current: BuildFacts | None, expected: bool
) -> None:
    assert MODE.should_update({}, candidate, current) is expected


def test_realistic_technote_history() -> None:
    history = ["main", "tickets/DM-1", "main", "v1.0", "main", "v1.1", "main", "v1.0"]
    current: BuildFacts | None = None
    seen: list[str] = []
    for seq, ref in enumerate(history, start=1):
        candidate = build(ref, seq)
        if MODE.should_update({}, candidate, current):
            current = candidate
        assert current is not None
        seen.append(f"{current.git_ref}@{current.sequence}")
    assert seen == [
        "main@1",
        "main@1",
        "main@3",
        "v1.0@4",
        "v1.0@4",
        "v1.1@6",
        "v1.1@6",
        "v1.1@6",
    ]
