"""Semantic-version tracking modes: ``semver_release``, ``semver_major``,
``semver_minor``.

Only stable ``X.Y.Z`` tags (optionally ``v``-prefixed) count; pre-releases,
dev releases and anything with extra parts are ignored so a release
candidate never becomes "the latest release".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.version import Version

from keeper.tracking.base import BuildFacts, Rank, RankedMode, require_int

_STABLE_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_semver(ref: str) -> Version | None:
    """Return the version of a stable ``[v]X.Y.Z`` ref, else ``None``."""
    match = _STABLE_SEMVER.fullmatch(ref)
    if match is None:
        return None
    return Version(".".join(match.groups()))


class SemverReleaseMode(RankedMode):
    name = "semver_release"

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        version = parse_semver(build.git_ref)
        return None if version is None else (version,)


class SemverMajorMode(RankedMode):
    name = "semver_major"
    required_params = ("major",)

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"major": require_int(self.name, params, "major")}

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        # Normalise here too: stored params may predate validation.
        major = self.validate_params(params)["major"]
        version = parse_semver(build.git_ref)
        if version is None or version.major != major:
            return None
        return (version,)


class SemverMinorMode(RankedMode):
    name = "semver_minor"
    required_params = ("major", "minor")

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "major": require_int(self.name, params, "major"),
            "minor": require_int(self.name, params, "minor"),
        }

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        wanted = self.validate_params(params)
        version = parse_semver(build.git_ref)
        if version is None or (version.major, version.minor) != (
            wanted["major"],
            wanted["minor"],
        ):
            return None
        return (version,)
