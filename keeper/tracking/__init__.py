"""Tracking modes: which builds an edition follows and when it moves.

See :mod:`keeper.tracking.base` for the interface.  Use :func:`get_mode` to
look a mode up by the name stored on an edition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keeper.tracking.auto import draft_slug, version_editions_for
from keeper.tracking.base import (
    BuildFacts,
    EditionFacts,
    RankedMode,
    TrackingMode,
    TrackingParamsError,
)
from keeper.tracking.eups import (
    EupsDailyReleaseMode,
    EupsMajorReleaseMode,
    EupsWeeklyReleaseMode,
)
from keeper.tracking.git_ref import AlternateGitRefMode, GitRefMode, GitRefsMode
from keeper.tracking.lsst_doc import LsstDocMode
from keeper.tracking.manual import ManualMode
from keeper.tracking.versions import (
    SemverMajorMode,
    SemverMinorMode,
    SemverReleaseMode,
    parse_semver,
)

__all__ = [
    "MODES",
    "BuildFacts",
    "EditionFacts",
    "RankedMode",
    "TrackingMode",
    "TrackingParamsError",
    "UnknownTrackingModeError",
    "draft_slug",
    "edition_claims",
    "edition_should_update",
    "get_mode",
    "parse_semver",
    "validate_tracking",
    "version_editions_for",
]


class UnknownTrackingModeError(TrackingParamsError, KeyError):
    """No tracking mode has this name."""

    def __str__(self) -> str:
        # KeyError would otherwise show the message in repr quotes.
        return str(self.args[0]) if self.args else ""


MODES: dict[str, TrackingMode] = {
    mode.name: mode
    for mode in (
        GitRefMode(),
        GitRefsMode(),
        AlternateGitRefMode(),
        LsstDocMode(),
        SemverReleaseMode(),
        SemverMajorMode(),
        SemverMinorMode(),
        EupsMajorReleaseMode(),
        EupsWeeklyReleaseMode(),
        EupsDailyReleaseMode(),
        ManualMode(),
    )
}


def get_mode(name: str) -> TrackingMode:
    try:
        return MODES[name]
    except KeyError:
        raise UnknownTrackingModeError(
            f"unknown tracking mode {name!r}; choose one of {', '.join(MODES)}"
        ) from None


def validate_tracking(name: str, params: object) -> dict[str, Any]:
    """Check a mode name and its params together; return normalised params."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TrackingParamsError(
            f"tracking params must be an object/mapping, got {params!r}"
        )
    return get_mode(name).validate_params(params)


def edition_claims(edition: EditionFacts, build: BuildFacts) -> bool:
    return get_mode(edition.tracking_mode).claims(edition.tracking_params, build)


def edition_should_update(
    edition: EditionFacts, candidate: BuildFacts, current: BuildFacts | None
) -> bool:
    return get_mode(edition.tracking_mode).should_update(
        edition.tracking_params, candidate, current
    )
