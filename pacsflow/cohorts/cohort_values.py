"""Checking the values of one cohort file row: exact keys, study dates, modalities.

Errors name the row (``where``) and the problem but never quote a key: the
keys identify patients.
"""

from __future__ import annotations

import datetime as dt
import re

from pacsflow.dicom.values import is_valid_uid
from pacsflow.errors import PermanentError

__all__ = ["CohortFileError", "check_key", "modalities_value", "study_date_value"]

_MAX_LENGTH = {"AccessionNumber": 16, "PatientID": 64, "StudyInstanceUID": 64}  # PS3.5 VRs
# YYYYMMDD, YYYY-MM-DD, YYYY.MM.DD or YYYY/MM/DD; a range joins two with "-".
_DATE_RE = re.compile(
    r"(?P<first>\d{4}(?P<s1>[-./]?)\d{2}(?P=s1)\d{2})"
    r"(?:\s*-\s*(?P<last>\d{4}(?P<s2>[-./]?)\d{2}(?P=s2)\d{2}))?"
)
_SCIENTIFIC = re.compile(r"[+-]?\d(?:[.,]\d+)?E[+-]?\d+", re.IGNORECASE)
_MODALITY_RE = re.compile(r"[A-Z0-9_]{1,16}")
_MODALITY_SEPARATORS = re.compile(r"[\\/\s|]+")


class CohortFileError(PermanentError):
    """The cohort file cannot be used; the message names the file, the row and the problem."""


def check_key(where: str, column: str, value: str | None) -> None:
    """Refuse a key the PACS would not match exactly (never quoting it: it is patient data)."""
    if value is None:
        return
    if any(c in value for c in "*?\\"):
        raise CohortFileError(
            f"{where}: {column} holds a wildcard or a backslash (* ? \\); "
            "cohorts match exact values"
        )
    if _SCIENTIFIC.fullmatch(value):
        raise CohortFileError(
            f"{where}: {column} is a number in scientific notation (like 1.23E+10): a "
            "spreadsheet rounded it and its digits are lost; format the column as Text and "
            "enter or paste the values again"
        )
    if len(value) > _MAX_LENGTH[column]:
        raise CohortFileError(
            f"{where}: {column} is longer than DICOM allows ({_MAX_LENGTH[column]} characters)"
        )
    if column == "StudyInstanceUID" and not is_valid_uid(value):
        raise CohortFileError(f"{where}: StudyInstanceUID is not a UID (digits and dots)")


def study_date_value(where: str, value: str | None) -> str | None:
    """A StudyDate match value (``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``) from a cell, or None."""
    if value is None:
        return None
    match = _DATE_RE.fullmatch(value)
    problem = "is not YYYYMMDD, YYYY-MM-DD or a range of them (YYYYMMDD-YYYYMMDD)"
    if match:
        ends = [re.sub(r"\D", "", d) for d in (match["first"], match["last"]) if d]
        try:
            days = [dt.datetime.strptime(d, "%Y%m%d").date() for d in ends]
        except ValueError:
            problem = "is not a calendar date"
        else:
            if len(days) == 1 or days[0] <= days[1]:
                return "-".join(ends)
            problem = "ends before it starts"
    raise CohortFileError(f"{where}: StudyDate {problem}")


def modalities_value(where: str, value: str | None) -> tuple[str, ...]:
    """The modalities a cell names (``CT\\MR``, ``CT/MR``, ``CT MR``), upper case."""
    if value is None:
        return ()
    modalities = tuple(m.upper() for m in _MODALITY_SEPARATORS.split(value) if m)
    for modality in modalities:
        if not _MODALITY_RE.fullmatch(modality):
            raise CohortFileError(
                f"{where}: ModalitiesInStudy holds {modality[:16]!r}, not a modality (CT, MR, ...)"
            )
    return modalities
