"""Index on arrival: an instance's rows made from the bytes its transfer already holds.

C-GET's C-STORE handler holds each data set in memory, and WADO-RS keeps the
first 64 KiB of each part it streams to disk. Both used to parse those bytes
with pydicom for the three UIDs that name the file (~0.3 ms for a 250-element
header), and the ingest then read and parsed every file again. Parsed once
here with the fast header path (:mod:`pacsflow.dicom.fast_header`), the same
header gives the UIDs that name the file *and* the rows of the ingest, which
takes them from :class:`Arrivals` instead of reading the file.

Nothing changes what is stored or when: the rows are still written by the
study's ingest, in one transaction with the rest of its folder, before the
study is judged complete; a file the fast path does not answer for (an odd
header, one longer than the bytes held) is named and ingested as before.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from pacsflow.database.engine import to_json_text
from pacsflow.dicom.fast_header import NeedsPydicomError, ParsedHeader, parse_header
from pacsflow.dicom.reading import is_parsed_directory
from pacsflow.dicom.records import ImageRecord, header2records
from pacsflow.errors import PermanentError

__all__ = ["Arrivals", "naming_uids_of", "parse_arrival", "sop_class_of"]

_NAMING_TAGS = ("0020000D", "0020000E", "00080018")  # study, series, SOP instance: path order


def parse_arrival(data: bytes, file_size: int) -> ParsedHeader | None:
    """The header of a Part 10 file from its bytes in memory (all of them, or its first
    ones); None when the fast path cannot answer, so the caller does as before."""
    try:
        return parse_header(data, file_size=file_size)
    except NeedsPydicomError:
        return None


def naming_uids_of(parsed: ParsedHeader) -> list[str]:
    """The Study, Series and SOP Instance UIDs of a parsed header ("" when absent),
    in the order of the file's path parts."""
    return [_first_text(parsed.header.get(tag)) for tag in _NAMING_TAGS]


def sop_class_of(parsed: ParsedHeader) -> str:
    """The SOP Class UID of a parsed header ("" when absent)."""
    return _first_text(parsed.header.get("00080016"))


def _first_text(element: dict[str, Any] | None) -> str:
    """The element's one text value; "" when it has none or several (so that a
    multi-valued UID is refused, as pydicom's naming refuses it)."""
    values = (element or {}).get("Value") or []
    return values[0] if len(values) == 1 and isinstance(values[0], str) else ""


class Arrivals:
    """The rows of the instances a transfer received, by file path; thread-safe.

    C-STORE handlers run on pynetdicom's threads, so :meth:`add` may be
    called from several at once. Each entry holds the rows and the header as
    JSON text (~15 KB for a 250-element header), not the parsed header.

    Args:
        institution: stored with each patient and image, as the ingest would.
    """

    def __init__(self, institution: str | None) -> None:
        self.institution = institution
        self._lock = threading.Lock()
        self._records: dict[str, ImageRecord] = {}

    def add(self, path: Path, parsed: ParsedHeader) -> None:
        """Keep the rows of the file just renamed to ``path``; a header the rows cannot be
        made of (a DICOMDIR, a missing UID) is left to the ingest, which records why."""
        try:
            record = header2records(
                parsed.header,
                is_directory=is_parsed_directory(parsed),
                institution=self.institution,
                filepath=str(path),
            )
            status = os.stat(path)
        except (PermanentError, OSError):
            return
        record.image["file_size"], record.image["file_mtime"] = status.st_size, status.st_mtime
        record.image["meta"] = to_json_text(record.image["meta"])
        with self._lock:
            self._records[str(path)] = record

    def records(self) -> dict[str, ImageRecord]:
        """The rows kept so far, by path (a copy)."""
        with self._lock:
            return dict(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
