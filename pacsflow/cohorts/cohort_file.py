"""The cohort file: a CSV list of accession numbers, patient IDs or study UIDs, one item a row.

Columns (a header row): any of ``AccessionNumber``, ``PatientID``,
``StudyInstanceUID`` (the keys; a row needs at least one), and optionally
``StudyDate`` (``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``, or with dashes:
``YYYY-MM-DD``) and ``ModalitiesInStudy`` (e.g. ``CT`` or ``CT\\MR``) to narrow
a row. Header names are matched ignoring case, spaces, ``_``, ``-``, ``.`` and
``#``, with the usual spellings ("Accession Number", "Acc No", "MRN",
"Patient ID", "Study UID", "Study Date", "Modality", ...; see ``_ALIASES``).
Other columns (e.g. "Patient Name") are ignored, and named once in a note.
The keys of a row are matched together (all must hold).

What spreadsheets write is accepted: a UTF-8 byte order mark, UTF-16
("Unicode Text"), commas, semicolons (European Excel) or tabs, a ``sep=;``
first line, CRLF or CR line ends, quoted values, blank rows (``;;;``) and
unnamed empty columns. A row repeating an earlier row's keys is counted once
(a note names both rows). A key that a spreadsheet turned into a number in
scientific notation (``1.23E+10``) has lost digits: the file is refused. A
lost leading zero cannot be seen and a trailing ``.0`` may be real, so those
values are used as written (a note names the rows ending in ``.0``).

The whole file is checked before anything runs. Errors and notes name the
row and the problem but never quote a key: the keys identify patients.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pacsflow.cohorts.cohort_values import (
    CohortFileError,
    check_key,
    modalities_value,
    study_date_value,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "KEY_COLUMNS",
    "CohortFile",
    "CohortFileError",
    "CohortItemKeys",
    "CohortSource",
    "load_cohort_file",
    "read_cohort_file",
]

KEY_COLUMNS = ("AccessionNumber", "PatientID", "StudyInstanceUID")
"""The columns that name studies; a row needs at least one of them."""

_NARROWING = ("StudyDate", "ModalitiesInStudy")
#: Header spellings, normalised by :func:`_normalised` (case, spaces, ``_-.#`` ignored).
_ALIASES = {
    "AccessionNumber": (
        "accessionnumber", "accession", "accessionno", "accessionnr", "accessionnum",
        "accnumber", "accno", "accnr", "accnum", "acc",
    ),
    "PatientID": (
        "patientid", "patid", "patientidentifier", "mrn", "medicalrecordnumber",
        "patientnumber", "patientno", "patientnr",
    ),
    "StudyInstanceUID": ("studyinstanceuid", "studyuid", "studyiuid", "studyinstance"),
    "StudyDate": ("studydate", "examdate", "examinationdate"),
    "ModalitiesInStudy": ("modalitiesinstudy", "modalities", "modality"),
}  # fmt: skip
_COLUMNS = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_IGNORED_IN_HEADERS = re.compile(r"[\s_.#-]+")
_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
_MAX_BYTES = 50 * 1024 * 1024


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


@dataclass(frozen=True)
class CohortFile:
    """A checked cohort file: its items, and what was left out of them.

    Attributes:
        items: one per distinct row, in file order (a repeated row is left out).
        ignored_columns: header names that are not cohort columns, in order.
        repeats: ``(row, earlier_row)`` for each row repeating an earlier one.
        decimal_rows: rows with a key ending in ``.0`` (used as written).
    """

    items: list[CohortItemKeys]
    ignored_columns: tuple[str, ...] = ()
    repeats: tuple[tuple[int, int], ...] = ()
    decimal_rows: tuple[int, ...] = ()

    @property
    def notes(self) -> list[str]:
        """One line per thing left out or worth a look (names and rows, never values)."""
        notes: list[str] = []
        if self.ignored_columns:
            names = ", ".join(repr(name[:40]) for name in self.ignored_columns)
            notes.append(f"ignored columns (not cohort columns): {names}")
        notes += [f"row {row} repeats row {earlier}; counted once" for row, earlier in self.repeats]
        if self.decimal_rows:
            notes.append(
                f"{_rows(self.decimal_rows)}: a key ends in '.0' (did a spreadsheet turn it "
                "into a number?); used as written"
            )
        return notes


def _rows(rows: tuple[int, ...]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def read_cohort_file(path: str | Path) -> list[CohortItemKeys]:
    """Read and check a cohort file; return its distinct items in file order.

    Raises:
        CohortFileError: the file is missing, unreadable, empty or malformed; the
            message names the row (data rows count from 1) and the problem.
    """
    return load_cohort_file(path).items


def load_cohort_file(path: str | Path) -> CohortFile:
    """Read and check a cohort file: its distinct items, and notes on what was left out.

    The caller shows the notes (ignored columns, repeated rows) where its user
    reads them; they are logged at INFO only, not to say them twice.

    Raises:
        CohortFileError: the file is missing, unreadable, empty or malformed; the
            message names the row (data rows count from 1) and the problem.
    """
    source = Path(path)
    text = _text(source)
    lines = text.splitlines()
    first_line = lines[0] if lines else ""
    sep_line = _SEP_LINE.fullmatch(first_line.strip())
    if sep_line:  # Excel's separator hint
        text = text[len(first_line) :].lstrip("\r\n")
        first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip(" ,;\t"):
        raise CohortFileError(f"{source}: empty, or no header on the first line")
    delimiter = sep_line.group(1) if sep_line else _delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns, ignored = _columns(source, next(reader))
    cohort = _distinct(source, list(_items(source, columns, reader)), ignored)
    for note in cohort.notes:
        LOGGER.info("%s: %s", source, note)
    return cohort


def _text(source: Path) -> str:
    try:
        if source.stat().st_size > _MAX_BYTES:
            raise CohortFileError(f"{source}: larger than {_MAX_BYTES // 2**20} MB")
        raw = source.read_bytes()
    except FileNotFoundError:
        raise CohortFileError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise CohortFileError(f"{source}: a folder, not a CSV file") from None
    except OSError as exc:
        raise CohortFileError(f"{source}: cannot be read: {exc.strerror}") from None
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CohortFileError(
            f"{source}: not UTF-8 text (byte {exc.start}); in Excel, save it as "
            "'CSV UTF-8 (Comma delimited)'"
        ) from None


def _delimiter(header: str) -> str:
    """The separator of the header line: the most frequent of comma, semicolon and tab."""
    return max((",", ";", "\t"), key=header.count)


def _normalised(name: str) -> str:
    return _IGNORED_IN_HEADERS.sub("", name).lower()


def _columns(source: Path, header: list[str]) -> tuple[list[str | None], tuple[str, ...]]:
    """The canonical name of each header cell (None: ignored), and the ignored names."""
    columns: list[str | None] = []
    ignored: list[str] = []
    first_of: dict[str, tuple[int, str]] = {}
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        canonical = _COLUMNS.get(_normalised(name))
        columns.append(canonical)
        if canonical is None:
            if name:
                ignored.append(name)
            continue
        if canonical in first_of:
            earlier, earlier_name = first_of[canonical]
            raise CohortFileError(
                f"{source}: header: columns {earlier} {earlier_name[:40]!r} and {position} "
                f"{name[:40]!r} both mean {canonical}; keep one"
            )
        first_of[canonical] = (position, name)
    if not any(c in KEY_COLUMNS for c in columns):
        shown = ", ".join(repr(n[:40]) for n in ignored[:10]) or "none"
        raise CohortFileError(
            f"{source}: header: no key column; give at least one of {', '.join(KEY_COLUMNS)} "
            f"(the header's columns: {shown})"
        )
    return columns, tuple(ignored)


def _distinct(source: Path, items: list[CohortItemKeys], ignored: tuple[str, ...]) -> CohortFile:
    """Leave out the rows repeating an earlier row's keys."""
    if not items:
        raise CohortFileError(f"{source}: a header but no data rows")
    first_row: dict[tuple[object, ...], int] = {}
    distinct: list[CohortItemKeys] = []
    repeats: list[tuple[int, int]] = []
    for item in items:
        earlier = first_row.setdefault(item.keys(), item.row)
        if earlier == item.row:
            distinct.append(item)
        else:
            repeats.append((item.row, earlier))
    decimal = tuple(
        item.row
        for item in distinct
        if any(k and k.endswith(".0") for k in (item.accession_number, item.patient_id))
    )
    return CohortFile(distinct, ignored, tuple(repeats), decimal)


def _items(
    source: Path, columns: list[str | None], rows: Iterable[list[str]]
) -> Iterable[CohortItemKeys]:
    number = 0
    for cells in rows:
        if not any(cell.strip() for cell in cells):  # a blank line, or one of empty cells
            continue
        number += 1
        where = f"{source}: row {number}"
        if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns) :]):
            cells = cells[: len(columns)]  # empty cells beyond the header (trailing separators)
        if len(cells) != len(columns):
            raise CohortFileError(f"{where}: {len(cells)} values for {len(columns)} columns")
        values = {
            c: cell.strip() or None for c, cell in zip(columns, cells, strict=True) if c is not None
        }
        for key in KEY_COLUMNS:
            check_key(where, key, values.get(key))
        if not any(values.get(k) for k in KEY_COLUMNS):
            raise CohortFileError(f"{where}: no {', '.join(KEY_COLUMNS[:-1])} or {KEY_COLUMNS[-1]}")
        yield CohortItemKeys(
            row=number,
            accession_number=values.get("AccessionNumber"),
            patient_id=values.get("PatientID"),
            study_uid=values.get("StudyInstanceUID"),
            study_date=study_date_value(where, values.get("StudyDate")),
            modalities=modalities_value(where, values.get("ModalitiesInStudy")),
        )
