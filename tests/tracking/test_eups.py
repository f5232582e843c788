"""EUPS modes: eups_major_release, eups_weekly_release, eups_daily_release."""

from __future__ import annotations

import datetime

import pytest
from packaging.version import Version

from keeper.tracking import BuildFacts, get_mode
from keeper.tracking.eups import (
    parse_eups_daily,
    parse_eups_major,
    parse_eups_weekly,
)


def build(ref: str, seq: int = 1, alt: str | None = None) -> BuildFacts:
    return BuildFacts(git_ref=ref, sequence=seq, alternate_name=alt)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("v12_1", Version("12.1")),
        ("v12_0", Version("12.0")),
        ("v12", Version("12")),
        ("v19_0_0", Version("19.0.0")),
        ("v12.1", None),
        ("12_1", None),
        ("v12_1_rc1", None),
        ("v12_", None),
        ("main", None),
        ("w.2024.05", None),
    ],
)
def test_parse_eups_major(ref: str, expected: Version | None) -> None:
    assert parse_eups_major(ref) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("w.2024.05", (2024, 5)),
        ("w.2023.52", (2023, 52)),
        ("w_2018_23", (2018, 23)),
        ("w.2020.53", (2020, 53)),
        ("w.2024.00", None),
        ("w.2024.54", None),
        ("w.2024_05", None),
        ("w.24.05", None),
        ("w.2024.05.1", None),
        ("d.2024.01.31", None),
        ("main", None),
    ],
)
def test_parse_eups_weekly(ref: str, expected: tuple[int, int] | None) -> None:
    assert parse_eups_weekly(ref) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("d.2024.01.31", datetime.date(2024, 1, 31)),
        ("d.2023.12.31", datetime.date(2023, 12, 31)),
        ("d_2018_06_08", datetime.date(2018, 6, 8)),
        ("d.2024.02.29", datetime.date(2024, 2, 29)),
        ("d.2023.02.29", None),
        ("d.2024.13.01", None),
        ("d.2024.1.31", None),
        ("d.2024_01_31", None),
        ("w.2024.05", None),
    ],
)
def test_parse_eups_daily(ref: str, expected: datetime.date | None) -> None:
    assert parse_eups_daily(ref) == expected


@pytest.mark.parametrize(
    ("mode", "ref", "expected"),
    [
        ("eups_major_release", "v12_1", True),
        ("eups_major_release", "v12", True),
        ("eups_major_release", "v19_0_0", True),
        ("eups_major_release", "v1.0.0", False),
        ("eups_major_release", "w.2024.05", False),
        ("eups_major_release", "main", False),
        ("eups_weekly_release", "w.2024.05", True),
        ("eups_weekly_release", "w_2018_23", True),
        ("eups_weekly_release", "d.2024.01.31", False),
        ("eups_weekly_release", "v12_1", False),
        ("eups_daily_release", "d.2024.01.31", True),
        ("eups_daily_release", "d_2018_06_08", True),
        ("eups_daily_release", "w.2024.05", False),
        ("eups_daily_release", "tickets/DM-12345", False),
    ],
)
def test_claims(mode: str, ref: str, expected: bool) -> None:
    assert get_mode(mode).claims({}, build(ref)) is expected
    assert get_mode(mode).claims({}, build(ref, alt="subaru")) is False


@pytest.mark.parametrize(
    ("mode", "candidate", "current", "expected"),
    [
        ("eups_major_release", build("v12_1", 2), None, True),
        ("eups_major_release", build("v12_1", 2), build("v12_0", 1), True),
        ("eups_major_release", build("v12_0", 3), build("v12_1", 2), False),
        # Numeric, not string, comparison: 12.10 > 12.9 and 12 > 9.
        ("eups_major_release", build("v12_10", 3), build("v12_9", 2), True),
        ("eups_major_release", build("v9_0", 3), build("v12_0", 2), False),
        ("eups_major_release", build("v12_1_1", 3), build("v12_1", 2), True),
        ("eups_major_release", build("v12_1", 3), build("v12_1", 2), True),
        ("eups_major_release", build("v12_1", 1), build("v12_1", 2), False),
        ("eups_weekly_release", build("w.2024.05", 1), build("w.2023.52", 2), True),
        ("eups_weekly_release", build("w.2023.52", 3), build("w.2024.05", 2), False),
        # Mixed separators compare on (year, week).
        ("eups_weekly_release", build("w.2018.24", 3), build("w_2018_23", 2), True),
        ("eups_weekly_release", build("w_2018_23", 3), build("w.2018.23", 2), True),
        ("eups_weekly_release", build("w.2018.23", 1), build("w.2018.23", 2), False),
        (
            "eups_daily_release",
            build("d.2024.01.31", 1),
            build("d.2023.12.31", 2),
            True,
        ),
        (
            "eups_daily_release",
            build("d.2023.12.31", 3),
            build("d.2024.01.31", 2),
            False,
        ),
        (
            "eups_daily_release",
            build("d.2024.01.31", 3),
            build("d.2024.01.31", 2),
            True,
        ),
        (
            "eups_daily_release",
            build("d.2024.01.31", 1),
            build("d.2024.01.31", 2),
            False,
        ),
        # Edition set by hand to a weekly; a daily tag takes over.
        ("eups_daily_release", build("d.2020.01.01", 1), build("w.2024.05", 2), True),
        ("eups_daily_release", build("w.2025.01", 9), build("d.2024.01.31", 2), False),
    ],
)
def test_should_update(
    mode: str, candidate: BuildFacts, current: BuildFacts | None, expected: bool
) -> None:
    assert get_mode(mode).should_update({}, candidate, current) is expected


@pytest.mark.parametrize(
    "mode", ["eups_major_release", "eups_weekly_release", "eups_daily_release"]
)
def test_validate_params_has_no_params(mode: str) -> None:
    assert get_mode(mode).validate_params({"git_ref": "main"}) == {}
