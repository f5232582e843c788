"""EUPS-style release tracking modes (LSST Science Pipelines tag conventions).

Tags use ``_`` where Git would use ``.`` because EUPS tag names cannot hold
dots; the dotted forms are accepted too since both appear in real repos.
A tag must use one separator throughout (``w.2024_05`` is not a tag).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from packaging.version import Version

from keeper.tracking.base import BuildFacts, Rank, RankedMode

_MAJOR = re.compile(r"v(\d+)(?:_(\d+))?(?:_(\d+))?")
_WEEKLY = re.compile(r"w([._])(\d{4})\1(\d{1,2})")
_DAILY = re.compile(r"d([._])(\d{4})\1(\d{2})\1(\d{2})")


def parse_eups_major(ref: str) -> Version | None:
    """``v12_1`` -> 12.1; also ``v12`` and ``v12_1_3``."""
    match = _MAJOR.fullmatch(ref)
    if match is None:
        return None
    return Version(".".join(part for part in match.groups() if part is not None))


def parse_eups_weekly(ref: str) -> tuple[int, int] | None:
    """``w.2024.05`` / ``w_2024_05`` -> (2024, 5)."""
    match = _WEEKLY.fullmatch(ref)
    if match is None:
        return None
    year, week = int(match.group(2)), int(match.group(3))
    # ISO years have at most 53 weeks; anything else is not a weekly tag.
    if not 1 <= week <= 53:
        return None
    return (year, week)


def parse_eups_daily(ref: str) -> datetime.date | None:
    """``d.2024.01.31`` / ``d_2024_01_31`` -> date(2024, 1, 31)."""
    match = _DAILY.fullmatch(ref)
    if match is None:
        return None
    try:
        return datetime.date(*(int(g) for g in match.group(2, 3, 4)))
    except ValueError:
        return None


class _NoParamsMode(RankedMode):
    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}


class EupsMajorReleaseMode(_NoParamsMode):
    name = "eups_major_release"

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        version = parse_eups_major(build.git_ref)
        return None if version is None else (version,)


class EupsWeeklyReleaseMode(_NoParamsMode):
    name = "eups_weekly_release"

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        return parse_eups_weekly(build.git_ref)


class EupsDailyReleaseMode(_NoParamsMode):
    name = "eups_daily_release"

    def rank(self, params: Mapping[str, Any], build: BuildFacts) -> Rank | None:
        date = parse_eups_daily(build.git_ref)
        return None if date is None else (date,)
