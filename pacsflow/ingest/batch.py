"""Index DICOM files already on disk: walk a folder, read headers, store rows in batches.

The unit of work is a batch of paths (:func:`ingest_batch`): its new images
and its failures are written in one transaction, so a crash loses at most the
batch in flight and a re-run redoes exactly that. Files already stored with
the same path, size and modification time are skipped without being parsed.
A file that cannot be stored gets a row in ``ingest_errors``; it never stops
the run. Memory is bounded by the batch size, whatever the folder's size.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from pacsflow.database.crud import InsertCounts, insert_records
from pacsflow.database.engine import make_engine, to_json_text
from pacsflow.database.models import Image, IngestError, utc_now
from pacsflow.database.schema import current_revision, initialize_database
from pacsflow.database.session import session_scope
from pacsflow.database.upsert import IN_CHUNK
from pacsflow.dicom.reading import read_header
from pacsflow.dicom.records import ImageRecord, dcm2records
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
    "batched",
    "count_candidates",
    "default_institution",
    "ingest_batch",
    "iter_dicom_candidates",
    "parse_dir2sql",
    "plan_batches",
    "require_schema",
]

T = TypeVar("T")

DEFAULT_BATCH_SIZE = 2000
"""Files per task and transaction: few tasks (each costs ~0.2 s of Prefect bookkeeping),
and ~70 MB of memory per batch in flight (headers are held as JSON text)."""

_IMAGES: Table = Image.__table__  # type: ignore[assignment]
_ERRORS: Table = IngestError.__table__  # type: ignore[assignment]


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


def iter_dicom_candidates(root: str | os.PathLike[str]) -> Iterator[str]:
    """Every file under ``root`` in sorted order, and every folder that cannot be listed.

    The walk streams one directory listing at a time. A folder it cannot
    list (permissions, removed meanwhile) is yielded itself, in its place, so
    that the batch holding it records the failure (:class:`UnreadableFolderError`)
    instead of its files going missing without a trace.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    top = Path(root)
    if not top.is_dir():  # checked now, not at the first next()
        raise NotADirectoryError(f"{top}: not a folder; give the folder that holds the DICOM files")
    return _walk(top)


def _walk(top: Path) -> Iterator[str]:
    unlisted: list[str] = []

    def remember(error: OSError) -> None:
        unlisted.append(os.fspath(error.filename if error.filename is not None else top))

    for folder, dirs, files in os.walk(top, onerror=remember):
        yield from unlisted
        unlisted.clear()
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(folder, name)
    yield from unlisted


def count_candidates(root: str | os.PathLike[str]) -> int:
    """How many files :func:`iter_dicom_candidates` yields (for progress reporting)."""
    return sum(1 for _ in iter_dicom_candidates(root))


def plan_batches(
    paths: Iterable[T], *, total: int, batch_size: int, workers: int
) -> Iterator[list[T]]:
    """Batches of ``batch_size``, then smaller ones for the last files.

    Large batches keep per-task overhead low; but when the last large batch
    runs, the other workers would sit idle for its whole length. So the files
    that remain once fewer than ``workers`` full batches are left are cut into
    batches a quarter of the size.
    """
    tail_size = max(1, batch_size // 4)
    tail_starts = max(0, total - workers * batch_size)
    items = iter(paths)
    done = 0
    while True:
        size = batch_size if done + batch_size <= tail_starts else tail_size
        batch = list(itertools.islice(items, size))
        if not batch:
            return
        done += len(batch)
        yield batch


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
        query = select(_IMAGES.c.filepath, _IMAGES.c.file_size, _IMAGES.c.file_mtime).where(
            _IMAGES.c.filepath.in_(chunk)
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
    paths: Sequence[str], stats: dict[str, tuple[int, float] | None], institution: str | None
) -> _Outcomes:
    outcomes = _Outcomes()
    with _cyclic_gc_paused():
        for path in paths:
            _read_one(path, stats.get(path), institution, outcomes)
    return outcomes


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
        record = dcm2records(read_header(path), institution=institution, filepath=path)
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
    db_url: str,
    paths: Sequence[str],
    *,
    institution: str | None,
    flow_run_id: str | None = None,
) -> BatchResult:
    """Store one batch of files in one transaction; record each failure in ``ingest_errors``.

    Args:
        db_url: the database URL (with its password, if any).
        paths: the files of this batch.
        institution: stored with each patient and image.
        flow_run_id: the Prefect flow run to record with failures.

    Returns:
        The batch's counts.
    """
    started = time.perf_counter()
    engine = make_engine(db_url)
    try:
        stats = {path: _stat(path) for path in paths}
        with session_scope(engine) as session:
            unchanged = _unchanged(session, stats)
        todo = [p for p in paths if p not in unchanged]
        read = _read(todo, stats, institution)
        failures = read.failures
        with session_scope(engine) as session:
            counts = _insert_isolating_rejects(session, read.records, failures, flow_run_id)
            _record_failures(session, failures, flow_run_id)
    finally:
        engine.dispose()
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
        seconds=time.perf_counter() - started,
    )


def _record_failures(session: Session, failures: list[_Failure], flow_run_id: str | None) -> None:
    if not failures:
        return
    now = utc_now()
    session.execute(
        insert(_ERRORS),
        [
            {
                "path": f.path,
                "error_type": f.error_type,
                "reason": f.reason,
                "flow_run_id": flow_run_id,
                "recorded_on": now,
            }
            for f in failures
        ],
    )


def parse_dir2sql(
    src: str | os.PathLike[str],
    conn_uri: str,
    institution_name: str | None = None,
    nb_threads: int = 1,
    create_tables: bool = False,
) -> BatchResult:
    """Index every DICOM file under ``src`` into the database, in this process (seed API).

    The ``ingest-dir`` Prefect flow (``flows.ingest_dir``) does the same work
    in parallel worker processes, with progress and a summary artifact; its
    module offers ``parse_dir2sql`` with this signature, where ``nb_threads``
    sets the number of workers.

    Args:
        src: the folder to walk (recursively).
        conn_uri: the database URL.
        institution_name: stored with each patient and image; defaults to
            ``unknown_YYYYMMDD`` (today).
        nb_threads: accepted for the seed's signature; this function runs in
            one process.
        create_tables: create the database and schema first when missing.

    Returns:
        The counts. Each failed file and its reason is in ``ingest_errors``.

    Raises:
        NotADirectoryError: ``src`` is not a folder.
        PermanentError: the database has no pacsflow schema and ``create_tables`` is False.
    """
    del nb_threads  # see docstring
    institution = institution_name or default_institution()
    candidates = iter_dicom_candidates(src)  # checks src before touching the database
    if create_tables:
        initialize_database(conn_uri)
    require_schema(conn_uri)
    total = BatchResult()
    for batch in batched(candidates, DEFAULT_BATCH_SIZE):
        total += ingest_batch(conn_uri, batch, institution=institution)
        LOGGER.info(
            "Ingested %d files (%d new images, %d failed so far)",
            total.files_seen,
            total.images_added,
            total.failed,
        )
    if total.failed:
        LOGGER.warning(
            "%d of %d files could not be stored (see ingest_errors): %s",
            total.failed,
            total.files_seen,
            total.failed_by_reason,
        )
    return total
