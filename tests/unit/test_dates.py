"""Relative date ranges of scheduled runs (outside a flow run, the run's date is today)."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.dates import DateRange, resolve_range

DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("days_back", "first", "last"), [(1, 1, 1), (7, 7, 1), (0, 0, 0)])
def test_days_back_counts_the_days_before_the_run(days_back: int, first: int, last: int) -> None:
    before = dt.date.today()  # read around the call: a run at midnight sees either day
    resolved = resolve_range(DateRange(None, None, days_back))
    after = dt.date.today()
    assert resolved in {(today - first * DAY, today - last * DAY) for today in (before, after)}


def test_absolute_dates() -> None:
    first = dt.date(2024, 1, 1)
    assert resolve_range(DateRange(first, None, None)) == (first, first)
    assert resolve_range(DateRange(first, dt.date(2024, 1, 31), None)) == (
        first,
        dt.date(2024, 1, 31),
    )
    assert resolve_range(DateRange(first, None, 1)) == (first, first)  # dates win over days_back


@pytest.mark.parametrize(
    ("start", "end", "days_back", "message"),
    [
        (None, None, None, "give start_date or days_back"),
        (None, None, -1, "0 or more"),
        (dt.date(2024, 1, 2), dt.date(2024, 1, 1), None, "before the start date"),
    ],
)
def test_bad_ranges_are_refused(
    start: dt.date | None, end: dt.date | None, days_back: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_range(DateRange(start, end, days_back))
