"""Tolerant parsing of DICOM element values into Python values.

Read tolerantly: an empty, odd or malformed optional value becomes ``None``
(or ``-1`` for an age, as in the seed schema) and never raises. The strict
checks for required identifiers live in :mod:`pacsflow.dicom.records`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

LOGGER = logging.getLogger(__name__)

__all__ = [
    "UNKNOWN_AGE",
    "age_to_years",
    "element_text",
    "is_valid_uid",
    "parse_da",
    "parse_int",
    "parse_tm",
    "person_name",
]

UNKNOWN_AGE = -1.0
"""What ``studies.patient_age`` holds when PatientAge is missing or malformed."""

_DAYS_PER_YEAR = 365.25
_AGE_UNIT_YEARS = {"D": 1 / _DAYS_PER_YEAR, "W": 7 / _DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}
_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$")
# DA: YYYYMMDD, or the ACR-NEMA form YYYY.MM.DD still found in old archives.
_DA_RE = re.compile(r"^\s*(\d{4})\.?(\d{2})\.?(\d{2})\s*$")
# TM: HH[MM[SS[.F{1,6}]]], colons tolerated (ACR-NEMA HH:MM:SS).
_TM_RE = re.compile(r"^\s*(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?\s*$")
# UI: dot-separated components of digits, at most 64 characters (PS3.5 9.1).
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_MAX_UID_LENGTH = 64


def _first(value: Any) -> Any:
    """The first value of a multi-valued element, or the value itself."""
    if isinstance(value, MultiValue | list | tuple):
        return value[0] if len(value) else None
    return value


def _stripped(value: Any) -> str:
    if value is None:
        return ""
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return text.replace("\x00", "").strip()


def element_text(ds: Dataset, keyword: str) -> str | None:
    """The element's values as stripped text, or None when absent or empty.

    The non-empty values of a multi-valued element are joined by backslashes,
    as DICOM writes them. NUL characters are dropped: PostgreSQL text cannot
    hold them and DICOM uses them only as padding.
    """
    value = ds.get(keyword)
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    return "\\".join(text for text in map(_stripped, values) if text) or None


def parse_da(value: Any) -> dt.date | None:
    """Parse a DA value (``YYYYMMDD`` or ``YYYY.MM.DD``) into a date, or None."""
    value = _first(value)
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    match = _DA_RE.match(str(value))
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:  # e.g. 20241340: month 13
        return None


def parse_tm(value: Any) -> dt.time | None:
    """Parse a TM value (``HHMMSS.FFFFFF``, shorter forms, or ``HH:MM:SS``) into a time."""
    value = _first(value)
    if isinstance(value, dt.time):
        return value
    if value is None or value == "":
        return None
    if isinstance(value, int | float):  # some writers store TM as a number
        value = f"{value:013.6f}" if isinstance(value, float) else f"{value:06d}"
    match = _TM_RE.match(str(value))
    if match is None:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return dt.time(
            int(hour),
            int(minute or 0),
            # DICOM allows a leap second (60); Python's time does not.
            min(int(second or 0), 59),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        return None


def age_to_years(value: Any) -> float:
    """Convert an AS value (``nnnD``, ``nnnW``, ``nnnM``, ``nnnY``) to years.

    Days, weeks and months give fractional years. Missing or malformed values
    (``ABCY``, ``12``, empty) give :data:`UNKNOWN_AGE`.
    """
    value = _first(value)
    if not value:
        return UNKNOWN_AGE
    match = _AGE_RE.match(str(value).upper())
    if match is None:
        return UNKNOWN_AGE
    number, unit = match.groups()
    return round(int(number) * _AGE_UNIT_YEARS[unit], 4)


def parse_int(value: Any) -> int | None:
    """Parse an IS/US value into an int, or None when absent or not a number."""
    value = _first(value)
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return int(float(str(value).strip()))
        except ValueError:
            return None


def person_name(ds: Dataset, keyword: str = "PatientName") -> str | None:
    """A PN value decoded with the dataset's Specific Character Set, as text.

    pydicom decodes with (0008,0005) Specific Character Set. When that fails
    (an unknown or wrong character set), the raw bytes are decoded as UTF-8
    with replacement characters rather than losing the whole name.
    """
    try:
        return element_text(ds, keyword)
    except (UnicodeError, LookupError, ValueError):
        element = ds.get_item(keyword)
        raw = getattr(element, "value", None)
        if isinstance(raw, bytes):
            LOGGER.debug("%s could not be decoded with the declared character set", keyword)
            text = raw.decode("utf-8", errors="replace").replace("\x00", "").strip()
            return text or None
        return None


def is_valid_uid(value: str) -> bool:
    """True when ``value`` follows the UI grammar: digits and dots, at most 64 characters.

    Components with a leading zero are accepted: they break the standard but
    are common in real archives, and rejecting them would lose their images.
    """
    return len(value) <= _MAX_UID_LENGTH and _UID_RE.match(value) is not None
