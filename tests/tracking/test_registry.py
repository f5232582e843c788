"""The mode registry, the manual mode and the edition-level helpers."""

from __future__ import annotations

import pytest

from keeper.tracking import (
    MODES,
    BuildFacts,
    EditionFacts,
    TrackingParamsError,
    UnknownTrackingModeError,
    edition_claims,
    edition_should_update,
    get_mode,
    validate_tracking,
)

ALL_MODES = {
    "git_ref",
    "git_refs",
    "alternate_git_ref",
    "lsst_doc",
    "semver_release",
    "semver_major",
    "semver_minor",
    "eups_major_release",
    "eups_weekly_release",
    "eups_daily_release",
    "manual",
}


def test_registry_has_every_mode_under_its_own_name() -> None:
    assert set(MODES) == ALL_MODES
    for name, mode in MODES.items():
        assert mode.name == name
        assert get_mode(name) is mode


@pytest.mark.parametrize("name", ["", "semver", "Git_Ref", "eups_weekly"])
def test_unknown_mode(name: str) -> None:
    with pytest.raises(UnknownTrackingModeError) as excinfo:
        get_mode(name)
    # Catchable both as a lookup failure and as a params error.
    assert isinstance(excinfo.value, KeyError)
    assert isinstance(excinfo.value, TrackingParamsError)
    message = str(excinfo.value)
    assert repr(name) in message
    assert "semver_release" in message
    assert not message.startswith('"')


@pytest.mark.parametrize(
    ("ref", "seq"),
    [("main", 1), ("v1.0.0", 2), ("w.2024.05", 3), ("d.2024.01.31", 4), ("v12_1", 5)],
)
def test_manual_never_claims_or_moves(ref: str, seq: int) -> None:
    manual = get_mode("manual")
    candidate = BuildFacts(git_ref=ref, sequence=seq)
    assert manual.claims({}, candidate) is False
    assert manual.should_update({}, candidate, None) is False
    assert manual.should_update({}, candidate, BuildFacts("main", 0)) is False
    assert manual.validate_params({"git_ref": "main"}) == {}


@pytest.mark.parametrize("name", sorted(ALL_MODES))
def test_every_mode_rejects_unclaimed_candidates(name: str) -> None:
    # No mode tracks this ref, so none may move to it.
    params = {
        "git_ref": "main",
        "git_refs": ["main"],
        "alternate_name": "subaru",
        "major": 2,
        "minor": 3,
    }
    odd = BuildFacts(git_ref="dependabot/npm_and_yarn/foo-1.2.3", sequence=99)
    mode = get_mode(name)
    assert mode.claims(params, odd) is False
    assert mode.should_update(params, odd, None) is False


def test_edition_helpers_dispatch_on_the_edition_mode() -> None:
    edition = EditionFacts(
        slug="2", tracking_mode="semver_major", tracking_params={"major": 2}
    )
    old = BuildFacts(git_ref="v2.9.3", sequence=1)
    new = BuildFacts(git_ref="v2.10.0", sequence=2)
    assert edition_claims(edition, new) is True
    assert edition_claims(edition, BuildFacts("v3.0.0", 3)) is False
    assert edition_should_update(edition, new, old) is True
    assert edition_should_update(edition, old, new) is False


def test_validate_tracking() -> None:
    assert validate_tracking("semver_minor", {"major": "2", "minor": "3"}) == {
        "major": 2,
        "minor": 3,
    }
    assert validate_tracking("lsst_doc", None) == {}
    with pytest.raises(TrackingParamsError, match="mapping"):
        validate_tracking("git_ref", ["main"])
    with pytest.raises(UnknownTrackingModeError):
        validate_tracking("nope", {})
    with pytest.raises(TrackingParamsError, match="'git_ref'"):
        validate_tracking("git_ref", {})
