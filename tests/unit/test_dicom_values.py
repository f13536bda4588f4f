"""Tolerant value parsing: dates, times, ages, numbers, UIDs."""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.multival import MultiValue

from pacsflow.dicom.values import (
    UNKNOWN_AGE,
    age_to_years,
    is_valid_uid,
    parse_da,
    parse_int,
    parse_tm,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240131", dt.date(2024, 1, 31)),
        ("2024.01.31", dt.date(2024, 1, 31)),
        (" 20240229 ", dt.date(2024, 2, 29)),
        ("20241340", None),
        ("20230229", None),
        ("2024013", None),
        ("", None),
        (None, None),
        ("garbage!", None),
    ],
)
def test_parse_da_accepts_dicom_and_acr_nema_dates_and_nulls_the_rest(
    value: str | None, expected: dt.date | None
) -> None:
    assert parse_da(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("101530.250", dt.time(10, 15, 30, 250000)),
        ("101530", dt.time(10, 15, 30)),
        ("1015", dt.time(10, 15)),
        ("10", dt.time(10)),
        ("10:15:30", dt.time(10, 15, 30)),
        ("235960", dt.time(23, 59, 59)),
        ("101530.123456", dt.time(10, 15, 30, 123456)),
        ("256000", None),
        ("1a", None),
        ("", None),
        (None, None),
        (101530.25, dt.time(10, 15, 30, 250000)),
    ],
)
def test_parse_tm_gives_a_time_not_a_float(value: object, expected: dt.time | None) -> None:
    assert parse_tm(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("054Y", 54.0),
        ("006M", 0.5),
        ("052W", round(52 * 7 / 365.25, 4)),
        ("365D", round(365 / 365.25, 4)),
        ("54y", 54.0),
        ("ABCY", UNKNOWN_AGE),
        ("54", UNKNOWN_AGE),
        ("", UNKNOWN_AGE),
        (None, UNKNOWN_AGE),
        ("-5Y", UNKNOWN_AGE),
    ],
)
def test_age_to_years_converts_units_and_marks_unknown(value: str | None, expected: float) -> None:
    assert age_to_years(value) == pytest.approx(expected)


def test_parse_int_reads_first_value_and_rejects_text() -> None:
    assert parse_int("12") == 12
    assert parse_int(" 7 ") == 7
    assert parse_int("3.0") == 3
    assert parse_int(MultiValue(str, ["4", "5"])) == 4
    assert parse_int("twelve") is None
    assert parse_int("") is None


@pytest.mark.parametrize(
    ("uid", "valid"),
    [
        ("1.2.840.10008.5.1.4.1.1.2", True),
        ("1.2.03.4", True),  # leading zero: wrong but common, accepted
        ("1.2.3.", False),
        ("1.2/../3", False),
        ("1.2.a", False),
        ("1." + "2" * 63, False),
        ("", False),
    ],
)
def test_is_valid_uid_follows_the_ui_grammar(uid: str, valid: bool) -> None:
    assert is_valid_uid(uid) is valid
