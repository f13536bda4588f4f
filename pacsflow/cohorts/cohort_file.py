"""The cohort file: a CSV list of accession numbers, patient IDs or study UIDs, one item a row.

Columns (a header row, names case-insensitive): any of ``AccessionNumber``,
``PatientID``, ``StudyInstanceUID`` (the keys; a row needs at least one), and
optionally ``StudyDate`` (``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``) and
``ModalitiesInStudy`` (e.g. ``CT`` or ``CT\\MR``) to narrow a row. The keys of
a row are matched together (all must hold). Commas, semicolons or tabs
separate the columns; a UTF-8 byte order mark (Excel) is accepted.

The whole file is checked before anything runs. Errors name the row and the
problem but never quote a key: the keys identify patients.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pacsflow.dicom.values import is_valid_uid
from pacsflow.errors import PermanentError

__all__ = [
    "KEY_COLUMNS",
    "CohortFileError",
    "CohortItemKeys",
    "CohortSource",
    "read_cohort_file",
]

KEY_COLUMNS = ("AccessionNumber", "PatientID", "StudyInstanceUID")
"""The columns that name studies; a row needs at least one of them."""

_NARROWING = ("StudyDate", "ModalitiesInStudy")
_COLUMNS = {name.lower(): name for name in (*KEY_COLUMNS, *_NARROWING)}
_MAX_LENGTH = {"AccessionNumber": 16, "PatientID": 64, "StudyInstanceUID": 64}  # PS3.5 VRs
_DATE_RE = re.compile(r"(\d{8})(?:-(\d{8}))?")
_MODALITY_RE = re.compile(r"[A-Z0-9_]{1,16}")
_MODALITY_SEPARATORS = re.compile(r"[\\/\s|]+")
_MAX_BYTES = 50 * 1024 * 1024


class CohortFileError(PermanentError):
    """The cohort file cannot be used; the message names the file, the row and the problem."""


@dataclass(frozen=True)
class CohortItemKeys:
    """One row of a cohort file: what to C-FIND for it.

    ``row`` counts data rows from 1 (the header is not counted).
    """

    row: int
    accession_number: str | None = None
    patient_id: str | None = None
    study_uid: str | None = None
    #: A StudyDate match value: ``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``.
    study_date: str | None = None
    modalities: tuple[str, ...] = ()

    def keys(self) -> tuple[str | None, str | None, str | None, str | None, str]:
        """The values that identify the item (compared when a cohort is run again)."""
        return (
            self.accession_number,
            self.patient_id,
            self.study_uid,
            self.study_date,
            "\\".join(self.modalities),
        )


_NAME_RE = re.compile(r"[\w.@+-][\w .@+-]{0,127}")


@dataclass(frozen=True)
class CohortSource:
    """Which cohort to run: a cohort file, a recorded cohort's name, or both.

    Args:
        file: the CSV file (its path, never its rows: they are patient data).
        name: the cohort's name (default: the file's name without ``.csv``).
            Without ``file``, the recorded cohort of that name is run again.
    """

    file: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.file and not self.name:
            raise ValueError("give a cohort file, or the name of a recorded cohort")
        if not _NAME_RE.fullmatch(self.cohort_name):
            raise ValueError(
                f"{self.cohort_name[:40]!r} is not a cohort name: 1 to 128 letters, digits, "
                "spaces and . _ - + @, not starting with a space"
            )

    @property
    def cohort_name(self) -> str:
        """The name the cohort is recorded under."""
        if self.name:
            return self.name
        assert self.file is not None
        return Path(self.file).stem


def read_cohort_file(path: str | Path) -> list[CohortItemKeys]:
    """Read and check a cohort file; return its items in file order.

    Raises:
        CohortFileError: the file is missing, unreadable, empty or malformed; the
            message names the row (data rows count from 1) and the problem.
    """
    source = Path(path)
    try:
        if source.stat().st_size > _MAX_BYTES:
            raise CohortFileError(f"{source}: larger than {_MAX_BYTES // 2**20} MB")
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CohortFileError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise CohortFileError(f"{source}: a folder, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise CohortFileError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise CohortFileError(f"{source}: cannot be read: {exc.strerror}") from None
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise CohortFileError(f"{source}: empty, or no header on the first line")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    columns = _columns(source, next(reader))
    items = list(_items(source, columns, reader))
    if not items:
        raise CohortFileError(f"{source}: a header but no data rows")
    return items


def _delimiter(header: str) -> str:
    """The separator of the header line: the most frequent of comma, semicolon and tab."""
    return max((",", ";", "\t"), key=header.count)


def _columns(source: Path, header: list[str]) -> list[str]:
    """The canonical column names of the header, in order."""
    columns: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        canonical = _COLUMNS.get(name.lower())
        if canonical is None:
            known = ", ".join((*KEY_COLUMNS, *_NARROWING))
            shown = name[:40] if name else "(empty)"
            raise CohortFileError(
                f"{source}: header: unknown column {position} {shown!r} (known: {known})"
            )
        if canonical in columns:
            raise CohortFileError(f"{source}: header: column {canonical} appears twice")
        columns.append(canonical)
    if not any(c in KEY_COLUMNS for c in columns):
        raise CohortFileError(
            f"{source}: header: no key column; give at least one of {', '.join(KEY_COLUMNS)}"
        )
    return columns


def _items(source: Path, columns: list[str], rows: Iterable[list[str]]) -> Iterable[CohortItemKeys]:
    number = 0
    for cells in rows:
        if not cells:  # a blank line
            continue
        number += 1
        where = f"{source}: row {number}"
        if len(cells) != len(columns):
            raise CohortFileError(f"{where}: {len(cells)} values for {len(columns)} columns")
        values = {c: cell.strip() or None for c, cell in zip(columns, cells, strict=True)}
        for key in KEY_COLUMNS:
            _check_key(where, key, values.get(key))
        if not any(values.get(k) for k in KEY_COLUMNS):
            raise CohortFileError(f"{where}: no {', '.join(KEY_COLUMNS[:-1])} or {KEY_COLUMNS[-1]}")
        yield CohortItemKeys(
            row=number,
            accession_number=values.get("AccessionNumber"),
            patient_id=values.get("PatientID"),
            study_uid=values.get("StudyInstanceUID"),
            study_date=_study_date(where, values.get("StudyDate")),
            modalities=_modalities(where, values.get("ModalitiesInStudy")),
        )


def _check_key(where: str, column: str, value: str | None) -> None:
    """Refuse a key the PACS would not match exactly (never quoting it: it is patient data)."""
    if value is None:
        return
    if any(c in value for c in "*?\\"):
        raise CohortFileError(
            f"{where}: {column} holds a wildcard or a backslash (* ? \\); "
            "cohorts match exact values"
        )
    if len(value) > _MAX_LENGTH[column]:
        raise CohortFileError(
            f"{where}: {column} is longer than DICOM allows ({_MAX_LENGTH[column]} characters)"
        )
    if column == "StudyInstanceUID" and not is_valid_uid(value):
        raise CohortFileError(f"{where}: StudyInstanceUID is not a UID (digits and dots)")


def _study_date(where: str, value: str | None) -> str | None:
    if value is None:
        return None
    match = _DATE_RE.fullmatch(value)
    problem = "is not YYYYMMDD or YYYYMMDD-YYYYMMDD"
    if match:
        try:
            days = [dt.datetime.strptime(d, "%Y%m%d").date() for d in match.groups() if d]
        except ValueError:
            problem = "is not a calendar date"
        else:
            if len(days) == 1 or days[0] <= days[1]:
                return value
            problem = "ends before it starts"
    raise CohortFileError(f"{where}: StudyDate {problem}")


def _modalities(where: str, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    modalities = tuple(m.upper() for m in _MODALITY_SEPARATORS.split(value) if m)
    for modality in modalities:
        if not _MODALITY_RE.fullmatch(modality):
            raise CohortFileError(
                f"{where}: ModalitiesInStudy holds {modality[:16]!r}, not a modality (CT, MR, ...)"
            )
    return modalities
