"""Flow run names that say what a run does: ``cohort big-lung``, ``move 2024-01-01..2024-01-31``.

Each function is a ``flow_run_name=`` callable: Prefect calls it when the run
starts, and it reads the run's parameters. Names hold a cohort's name, dates,
a folder's name, never anything read from a cohort file's rows or a DICOM
header (no patient identifier: run names are shown and stored by Prefect).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from flows.dates import DateRange, resolve_range

__all__ = [
    "cohort_run_name",
    "dump_run_name",
    "export_run_name",
    "find_run_name",
    "ingest_run_name",
    "init_db_run_name",
    "move_run_name",
    "pipeline_run_name",
]

_MAX_CHARS = 100


def _param(name: str) -> Any:
    return flow_run.parameters.get(name)


def _field(value: Any, name: str) -> Any:
    """A field of a parameter: a dataclass in the run, a dict when not validated."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _name(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part not in (None, ""))[:_MAX_CHARS]


def _span(start: object, end: object) -> str:
    if start and end:
        return str(start) if start == end else f"{start}..{end}"
    if end:
        return f"up to {end}"  # a run that also retries what earlier ranges left
    if start:
        return f"from {start}"
    return ""


def _dates(dates: Any) -> str:
    """The resolved study dates of a run, or "" when they cannot be resolved (the run fails)."""
    if isinstance(dates, dict):
        dates = DateRange(**dates)
    if dates is not None and not isinstance(dates, DateRange):
        return ""
    try:
        start, end = resolve_range(dates)
    except (TypeError, ValueError):
        return ""
    return _span(start.isoformat(), end.isoformat())


def _folder(path: Any) -> str:
    return Path(str(path)).name if path else ""


def cohort_run_name() -> str:
    """``cohort <name>``: the cohort's name (given, or its file's name without ``.csv``)."""
    cohort = _param("cohort")
    name = _field(cohort, "name") or Path(str(_field(cohort, "file") or "")).stem
    return _name("cohort", name)


def pipeline_run_name() -> str:
    """``pipeline <first date>..<last date>``."""
    return _name("pipeline", _dates(_param("dates")))


def find_run_name() -> str:
    """``find <first date>..<last date>``."""
    return _name("find", _dates(_param("dates")))


def move_run_name() -> str:
    """``move <first date>..<last date>``, ``move cohort <name>``, or ``move all found``."""
    pick = _param("pick")
    cohort = _field(pick, "cohort")
    start, end = _field(pick, "start_date"), _field(pick, "end_date")
    dates = _span(
        start.isoformat() if isinstance(start, dt.date) else start,
        end.isoformat() if isinstance(end, dt.date) else end,
    )
    if not cohort and not dates:
        return "move all found"
    return _name("move", f"cohort {cohort}" if cohort else None, dates)


def ingest_run_name() -> str:
    """``ingest <folder name>``."""
    return _name("ingest", _folder(_param("src")))


def export_run_name() -> str:
    """``export <destination folder name>``."""
    return _name("export", _folder(_param("dest")))


def dump_run_name() -> str:
    """``dump-db <output folder name>``."""
    return _name("dump-db", _folder(_param("output")))


def init_db_run_name() -> str:
    """``init-db <database name>`` (its file's name for SQLite), or ``init-db``."""
    db_url = _param("db_url")
    try:
        database = make_url(str(db_url)).database if db_url else None
    except ArgumentError:
        database = None
    return _name("init-db", _folder(database))
