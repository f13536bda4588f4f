"""One batch of files into the database: read the headers, store the rows, record failures.

The unit of work is a batch of paths (:func:`ingest_batch`): its new images
and its failures are written in one transaction, so a crash loses at most the
batch in flight and a re-run redoes exactly that. Files already stored with
the same path, size and modification time are skipped without being parsed.
A file that cannot be stored gets a row in ``ingest_errors``; it never stops
the run. Memory is bounded by the batch size, whatever the folder's size.
Walking folders into batches is :mod:`pacsflow.ingest.folders`; running the
batches of a folder is :mod:`pacsflow.ingest.folder_ingest`.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from pacsflow.database.crud import InsertCounts, insert_records
from pacsflow.database.engine import to_json_text
from pacsflow.database.models.tables import IMAGES, INGEST_ERRORS
from pacsflow.database.schema import current_revision
from pacsflow.database.session import session_scope
from pacsflow.database.upsert import IN_CHUNK, insert_run_log
from pacsflow.dicom.reading import read_header_json
from pacsflow.dicom.records import ImageRecord, header2records
from pacsflow.errors import (
    InvalidDicomError,
    NotAnInstanceError,
    PermanentError,
    UnreadableFolderError,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "BatchResult",
    "default_institution",
    "ingest_batch",
    "require_schema",
]

DEFAULT_BATCH_SIZE = 2000
"""Files per task and transaction: few tasks (each costs ~0.2 s of Prefect bookkeeping),
and ~70 MB of memory per batch in flight (headers are held as JSON text)."""


@dataclass
class BatchResult:
    """What one batch (or a whole run, when added up) did. Plain data, safe to pickle and log."""

    files_seen: int = 0
    #: Files skipped unparsed: same path, size and mtime as an image already stored.
    unchanged: int = 0
    #: Files parsed whose SOPInstanceUID was already stored.
    already_present: int = 0
    images_added: int = 0
    patients_added: int = 0
    studies_added: int = 0
    series_added: int = 0
    failed: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    #: DICOM files that hold no instance (DICOMDIRs), by what they are; not failures.
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    #: Parent columns the stored images disagreed on (rows added to ``ingest_conflicts``).
    conflicts: int = 0
    #: Headers read by pydicom because the one-pass reader does not handle the file.
    read_by_pydicom: int = 0
    seconds: float = 0.0

    def __iadd__(self, other: BatchResult) -> BatchResult:
        for name, value in asdict(other).items():
            if name.endswith("_by_reason"):
                setattr(self, name, dict(Counter(getattr(self, name)) + Counter(value)))
            else:
                setattr(self, name, getattr(self, name) + value)
        return self

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict (for artifacts and JSON output)."""
        return asdict(self)


def default_institution(today: date | None = None) -> str:
    """The seed's default institution name: ``unknown_YYYYMMDD`` for today."""
    return f"unknown_{(today or date.today()):%Y%m%d}"


def require_schema(url: str) -> None:
    """Fail early and clearly when the database has no pacsflow tables.

    Raises:
        PermanentError: the database exists but was never initialised.
    """
    if current_revision(url) is None:
        raise PermanentError(
            "the database has no pacsflow tables; run `pacsflow init-db` first "
            "(or pass create_tables=True)"
        )


@dataclass
class _Failure:
    path: str
    error_type: str
    reason: str


@dataclass
class _Outcomes:
    """What reading a batch gave: records to insert, failures to record, files skipped."""

    records: list[ImageRecord] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    read_by_pydicom: int = 0

    def fail(self, error: PermanentError, path: str) -> None:
        self.failures.append(_Failure(path, type(error).__name__, str(error)))


def _stat(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # read_header reports it
    return st.st_size, st.st_mtime


def _unchanged(session: Session, stats: dict[str, tuple[int, float] | None]) -> set[str]:
    """The paths already stored with the same size and modification time."""
    paths = sorted(p for p, st in stats.items() if st is not None)
    same: set[str] = set()
    for start in range(0, len(paths), IN_CHUNK):
        chunk = paths[start : start + IN_CHUNK]
        query = select(IMAGES.c.filepath, IMAGES.c.file_size, IMAGES.c.file_mtime).where(
            IMAGES.c.filepath.in_(chunk)
        )
        for path, size, mtime in session.execute(query):
            if stats.get(path) == (size, mtime):
                same.add(path)
    return same


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch is read.

    A batch holds ~600 new dicts and lists per file until it is written. Each
    of them counts towards the next collection, and every full collection
    rescans every live object (Prefect alone leaves ~190,000 in a worker):
    measured, this cost a fifth of the reading time. The records hold no
    reference cycles, so reference counting frees them all the same; the
    collector's previous state is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(
    paths: Sequence[str],
    stats: dict[str, tuple[int, float] | None],
    institution: str | None,
    arrived: Mapping[str, ImageRecord],
) -> _Outcomes:
    outcomes = _Outcomes()
    with _cyclic_gc_paused():
        for path in paths:
            record = arrived.get(path)
            if record is not None and _same_file(record, stats.get(path)):
                outcomes.records.append(_copy(record))
            else:
                _read_one(path, stats.get(path), institution, outcomes)
    return outcomes


def _same_file(record: ImageRecord, size_mtime: tuple[int, float] | None) -> bool:
    """True when the file is as it was when its rows were made on arrival."""
    return size_mtime == (record.image["file_size"], record.image["file_mtime"])


def _copy(record: ImageRecord) -> ImageRecord:
    """A copy of the rows to insert: the insert fills in keys, the caller's rows stay as given."""
    return ImageRecord(
        dict(record.patient), dict(record.study), dict(record.series), dict(record.image)
    )


def _unlisted_folder(path: str) -> UnreadableFolderError:
    """The error for a folder the walk could not list, with the reason it gives now."""
    try:
        with os.scandir(path):
            reason = "it could not be listed during the walk; run the ingest again"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    return UnreadableFolderError(path, reason)


def _read_one(
    path: str, size_mtime: tuple[int, float] | None, institution: str | None, into: _Outcomes
) -> None:
    """Read and convert one file into ``into``: a record, a failure or a skipped file."""
    if os.path.isdir(path):  # a folder the walk could not list
        into.fail(_unlisted_folder(path), path)
        return
    try:
        read = read_header_json(path)
        if not read.fast:
            into.read_by_pydicom += 1
        record = header2records(
            read.header, is_directory=read.is_directory, institution=institution, filepath=path
        )
    except NotAnInstanceError as exc:
        into.skipped[exc.kind] += 1
        return
    except PermanentError as exc:
        into.fail(exc, path)
        return
    except Exception as exc:  # hostile input makes pydicom raise many types
        into.fail(InvalidDicomError(path, f"cannot be parsed ({type(exc).__name__}: {exc})"), path)
        return
    if size_mtime is not None:
        record.image["file_size"], record.image["file_mtime"] = size_mtime
    record.image["meta"] = to_json_text(record.image["meta"])
    into.records.append(record)


def _insert_isolating_rejects(
    session: Session, records: list[ImageRecord], failures: list[_Failure], flow_run_id: str | None
) -> InsertCounts:
    """Insert the records; if the database rejects the batch, find the rows it rejects.

    A value the database refuses (a constraint or type it enforces that the
    conversion did not) must cost one file, not the batch: the batch is split
    in halves inside savepoints until the rejected files are isolated, and
    those are recorded as failures. Connection errors are not caught.
    """
    try:
        with session.begin_nested():
            return insert_records(session, records, flow_run_id=flow_run_id)
    except (IntegrityError, DataError, ProgrammingError) as exc:
        if len(records) == 1:
            path = str(records[0].image["filepath"])
            failures.append(
                _Failure(
                    path,
                    "DatabaseRejected",
                    f"{path}: the database refused the row ({type(exc.orig).__name__})",
                )
            )
            return InsertCounts()
    middle = len(records) // 2
    counts = _insert_isolating_rejects(session, records[:middle], failures, flow_run_id)
    counts += _insert_isolating_rejects(session, records[middle:], failures, flow_run_id)
    return counts


def ingest_batch(
    engine: Engine,
    paths: Sequence[str],
    *,
    institution: str | None,
    flow_run_id: str | None = None,
    arrived: Mapping[str, ImageRecord] | None = None,
) -> BatchResult:
    """Store one batch of files in one transaction; record each failure in ``ingest_errors``.

    Args:
        engine: the caller's engine (one per process or run, not per batch).
        paths: the files of this batch.
        institution: stored with each patient and image.
        flow_run_id: the Prefect flow run to record with failures.
        arrived: rows made as files arrived (:mod:`pacsflow.ingest.arrivals`), by
            path: such a file is not read while its size and mtime are unchanged.

    Returns:
        The batch's counts.
    """
    started = time.perf_counter()
    stats = {path: _stat(path) for path in paths}
    with session_scope(engine) as session:
        unchanged = _unchanged(session, stats)
    todo = [p for p in paths if p not in unchanged]
    read = _read(todo, stats, institution, arrived or {})
    failures = read.failures
    with session_scope(engine) as session:
        counts = _insert_isolating_rejects(session, read.records, failures, flow_run_id)
        _record_failures(session, failures, flow_run_id)
    stored = len(read.records) - sum(1 for f in failures if f.error_type == "DatabaseRejected")
    return BatchResult(
        files_seen=len(paths),
        unchanged=len(unchanged),
        already_present=stored - counts.images,
        images_added=counts.images,
        patients_added=counts.patients,
        studies_added=counts.studies,
        series_added=counts.series,
        failed=len(failures),
        failed_by_reason=dict(Counter(f.error_type for f in failures)),
        skipped=read.skipped.total(),
        skipped_by_reason=dict(read.skipped),
        conflicts=counts.conflicts,
        read_by_pydicom=read.read_by_pydicom,
        seconds=time.perf_counter() - started,
    )


def _record_failures(session: Session, failures: list[_Failure], flow_run_id: str | None) -> None:
    insert_run_log(session, INGEST_ERRORS, [asdict(f) for f in failures], flow_run_id)
