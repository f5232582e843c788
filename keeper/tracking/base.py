"""The tracking-mode strategy interface.

A tracking mode answers two questions about a confirmed build and one
edition:

* ``claims``: is this build within the edition's scope at all (the edition
  "tracks" the build's ref, whether or not it is newer)?  A build no edition
  claims gets an auto-created draft edition.
* ``should_update``: should the edition move from its current build to this
  one?  This is where versions compare as versions and where the stale guard
  lives: a build older than the current one never moves an edition back.

Modes are pure functions of plain data so they can be unit-tested on
real-world refs without a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class BuildFacts:
    """What tracking needs to know about a build."""

    git_ref: str
    #: Monotonic registration order (the build's row id); larger is newer.
    sequence: int
    #: All refs of a legacy multi-ref build; defaults to ``[git_ref]``.
    git_refs: tuple[str, ...] = ()
    #: Deployment name for ``alternate_git_ref`` builds.
    alternate_name: str | None = None

    @property
    def refs(self) -> tuple[str, ...]:
        return self.git_refs or (self.git_ref,)


@dataclass(frozen=True)
class EditionFacts:
    """What tracking needs to know about an edition."""

    slug: str
    tracking_mode: str
    tracking_params: Mapping[str, Any] = field(default_factory=dict)


class TrackingParamsError(ValueError):
    """The edition's tracking parameters do not fit its mode."""


class TrackingMode:
    """Base class for one tracking rule."""

    name: ClassVar[str]
    #: Parameter names this mode requires in ``tracking_params``.
    required_params: ClassVar[tuple[str, ...]] = ()

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return normalised params or raise :class:`TrackingParamsError`."""
        missing = [p for p in self.required_params if params.get(p) in (None, "")]
        if missing:
            raise TrackingParamsError(
                f"tracking mode {self.name!r} needs {', '.join(missing)}"
            )
        return dict(params)

    def claims(self, params: Mapping[str, Any], build: BuildFacts) -> bool:
        raise NotImplementedError

    def should_update(
        self,
        params: Mapping[str, Any],
        candidate: BuildFacts,
        current: BuildFacts | None,
    ) -> bool:
        raise NotImplementedError


#: A comparable rank for a claimed build; ``None`` means "not claimed".
Rank = tuple[Any, ...]


class RankedMode(TrackingMode):
    """A mode whose claimed builds carry a rank; the highest rank wins.

    Every mode except ``manual`` is one of these.  Exact-ref modes give all
    claimed builds the same rank, so only the stale guard (sequence) decides.
    """

    #: Only ``alternate_git_ref`` may claim builds of an alternate deployment;
    #: otherwise a deployment's tag build would move the main editions.
    accepts_alternate_builds: ClassVar[bool] = False

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        raise NotImplementedError

    def _rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        if build.alternate_name and not self.accepts_alternate_builds:
            return None
        return self.rank(params, build)

    def claims(self, params: Mapping[str, Any], build: BuildFacts) -> bool:
        return self._rank(params, build) is not None

    def should_update(
        self,
        params: Mapping[str, Any],
        candidate: BuildFacts,
        current: BuildFacts | None,
    ) -> bool:
        new = self._rank(params, candidate)
        if new is None:
            return False
        if current is None:
            return True
        old = self._rank(params, current)
        if old is None:
            # The edition was pointed elsewhere by hand; tracking takes over.
            return True
        if new != old:
            return new > old
        return candidate.sequence > current.sequence


def require_str(mode: str, params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TrackingParamsError(
            f"tracking mode {mode!r} needs {key!r} as a non-empty string, got {value!r}"
        )
    return value


def require_int(mode: str, params: Mapping[str, Any], key: str) -> int:
    value = params.get(key)
    # bool is an int subclass; True as a major version is surely a mistake.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        number = int(value)
    else:
        raise TrackingParamsError(
            f"tracking mode {mode!r} needs {key!r} as a whole number"
            f" (e.g. 2), got {value!r}"
        )
    if number < 0:
        raise TrackingParamsError(
            f"tracking mode {mode!r} needs {key!r} >= 0, got {number}"
        )
    return number
