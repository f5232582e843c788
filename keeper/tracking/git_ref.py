"""Exact-ref tracking modes: ``git_ref``, ``git_refs`` and ``alternate_git_ref``.

All claimed builds rank equal, so only the stale guard (a newer sequence)
moves the edition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keeper.tracking.base import (
    BuildFacts,
    Rank,
    RankedMode,
    TrackingParamsError,
    require_str,
)

_SAME: Rank = ()


class GitRefMode(RankedMode):
    name = "git_ref"
    required_params = ("git_ref",)

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"git_ref": require_str(self.name, params, "git_ref")}

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        return _SAME if build.git_ref == params.get("git_ref") else None


class GitRefsMode(RankedMode):
    """Legacy multi-ref builds: the build's ref set must equal the edition's."""

    name = "git_refs"
    required_params = ("git_refs",)

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        refs = params.get("git_refs")
        # A bare string is iterable too and would silently become characters.
        if (
            not isinstance(refs, list | tuple)
            or not refs
            or not all(isinstance(r, str) and r.strip() for r in refs)
        ):
            raise TrackingParamsError(
                f"tracking mode {self.name!r} needs 'git_refs' as a non-empty"
                f' list of ref names (e.g. ["main"]), got {refs!r}'
            )
        return {"git_refs": [str(r) for r in refs]}

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        wanted = params.get("git_refs")
        if not isinstance(wanted, list | tuple) or not wanted:
            return None
        return _SAME if sorted(build.refs) == sorted(wanted) else None


class AlternateGitRefMode(RankedMode):
    name = "alternate_git_ref"
    required_params = ("git_ref", "alternate_name")
    accepts_alternate_builds = True

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "git_ref": require_str(self.name, params, "git_ref"),
            "alternate_name": require_str(self.name, params, "alternate_name"),
        }

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        matches = (
            build.git_ref == params.get("git_ref")
            and build.alternate_name is not None
            and build.alternate_name == params.get("alternate_name")
        )
        return _SAME if matches else None
