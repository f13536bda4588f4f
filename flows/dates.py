"""Date ranges relative to the run: ``days_back=N`` means the N days before the run's date.

A scheduled deployment keeps the same parameters every night, so its range is
resolved when the run starts, from the run's *scheduled* time: a run that
starts late still covers the night it was scheduled for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from prefect.runtime import flow_run

__all__ = ["DateRange", "is_subflow", "resolve_range", "run_date", "run_start"]


@dataclass(frozen=True)
class DateRange:
    """The study dates of a run: absolute, or relative to the run's scheduled date.

    Args:
        start_date: the first study date; when given, ``days_back`` is ignored
            (so a run started from the UI with dates overrides a deployment's
            ``days_back``).
        end_date: the last study date (default: ``start_date``; with
            ``days_back``, the day before the run's date, so ``days_back=1`` is
            yesterday and ``days_back=7`` the last seven days; ``days_back=0`` is
            today).
        days_back: the first date is this many days before the run's date.
    """

    start_date: dt.date | None = None
    end_date: dt.date | None = None
    days_back: int | None = None


def run_start() -> dt.datetime:
    """When the current flow run was scheduled to start, in local time (now outside a run)."""
    scheduled = flow_run.scheduled_start_time
    if isinstance(scheduled, dt.datetime):
        return scheduled.astimezone()
    return dt.datetime.now().astimezone()


def is_subflow() -> bool:
    """Whether the current flow run is a subflow (of a parent that may have opened the site:
    database initialised, PACS echoed)."""
    return flow_run.parent_flow_run_id is not None


def run_date() -> dt.date:
    """The local date the current flow run was scheduled for (today outside a run)."""
    scheduled = flow_run.scheduled_start_time
    if isinstance(scheduled, dt.datetime):
        return scheduled.astimezone().date()
    return dt.date.today()


def resolve_range(dates: DateRange | None) -> tuple[dt.date, dt.date]:
    """The first and last study dates of a run (see :class:`DateRange`).

    Raises:
        ValueError: neither ``start_date`` nor ``days_back`` is given, or the range
            ends before it starts.
    """
    start_date, end_date, days_back = (
        (dates.start_date, dates.end_date, dates.days_back) if dates else (None, None, None)
    )
    if start_date is None and days_back is None:
        raise ValueError("give start_date or days_back (e.g. days_back=1: yesterday)")
    if start_date is None and days_back is not None:
        if days_back < 0:
            raise ValueError(f"days_back must be 0 or more, not {days_back}")
        today = run_date()
        start_date = today - dt.timedelta(days=days_back)
        last = end_date or (today - dt.timedelta(days=1) if days_back else today)
    else:
        assert start_date is not None
        last = end_date or start_date
    if last < start_date:
        raise ValueError(f"the end date {last} is before the start date {start_date}")
    return start_date, last
