"""The end of a retrieval window: a run stops starting studies at a wall-clock time.

A nightly run that must spare the PACS during the day is given ``until``
(``HH:MM`` or ``HH:MM:SS``, the worker's local time). The window ends at the
first such time after the run was scheduled to start: a run scheduled at
02:00 with ``until=06:30`` stops starting studies at 06:30 the same day (and
starts none if it only begins at 07:00); one scheduled at 23:00 stops at
06:30 the next morning. An ISO 8601 date and time with its UTC offset
(``2026-12-01T06:30:00+01:00``) is an absolute end: a parent flow passes its
resolved end to its subflows this way.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["parse_until", "window_end"]


def parse_until(until: str) -> dt.time | dt.datetime:
    """The time of day of ``until``, or the absolute (aware) end it names.

    Raises:
        ValueError: neither ``HH:MM``, ``HH:MM:SS`` (24-hour clock) nor an ISO
            8601 date and time with its UTC offset.
    """
    text = until.strip()
    for pattern in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    try:
        absolute: dt.datetime | None = dt.datetime.fromisoformat(text)
    except ValueError:
        absolute = None
    if absolute is not None and absolute.tzinfo is not None and len(text) > 10:
        return absolute
    raise ValueError(
        f"until {until!r} is not a time of day: give HH:MM (e.g. 06:30), or a date and "
        "time with its UTC offset"
    )


def window_end(until: str, started: dt.datetime) -> dt.datetime:
    """The first ``until`` after ``started`` (an aware datetime), in ``started``'s zone;
    an absolute ``until`` as it is."""
    if started.tzinfo is None:
        raise ValueError("started must be an aware datetime")
    parsed = parse_until(until)
    if isinstance(parsed, dt.datetime):
        return parsed
    end = dt.datetime.combine(started.date(), parsed, tzinfo=started.tzinfo)
    return end if end > started else end + dt.timedelta(days=1)
