"""Index DICOM files already on disk: walk a folder, read headers, store rows in batches.

The walk streams (one directory listing at a time) and each batch is read,
converted and written as one transaction, so memory stays bounded whatever the
folder's size and a crash loses at most the batch in flight. A file that
cannot be stored is counted with its reason; it never stops the run.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine

from pacsflow.crud import insert_records
from pacsflow.dcm2model import ImageRecord, dcm2records
from pacsflow.dicom_file import read_header
from pacsflow.engine import make_engine
from pacsflow.errors import InvalidDicomError, PermanentError
from pacsflow.schema import current_revision, initialize_database
from pacsflow.session import session_scope

LOGGER = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IngestSummary",
    "default_institution",
    "ingest_paths",
    "iter_dicom_candidates",
    "parse_dir2sql",
    "read_records",
]

T = TypeVar("T")

DEFAULT_BATCH_SIZE = 500
"""Files per transaction: large enough to amortise each INSERT, small enough to bound memory."""

_SKIPPED_NAMES = frozenset({"DICOMDIR"})


@dataclass
class IngestSummary:
    """What an ingest run did."""

    files_seen: int = 0
    images_added: int = 0
    #: Files whose SOPInstanceUID was already in the database.
    already_present: int = 0
    patients_added: int = 0
    studies_added: int = 0
    series_added: int = 0
    #: (path, reason) of every file that could not be stored.
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        """How many files could not be stored."""
        return len(self.failures)

    def failures_by_reason(self) -> dict[str, int]:
        """Failure counts by kind of error (the exception class name)."""
        return dict(Counter(reason.split(":", 1)[0] for _, reason in self.failures))


def default_institution(today: date | None = None) -> str:
    """The seed's default institution name: ``unknown_YYYYMMDD`` for today."""
    return f"unknown_{(today or date.today()):%Y%m%d}"


def iter_dicom_candidates(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Every regular file under ``root``, in sorted order, DICOMDIR index files excluded.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    top = Path(root)
    if not top.is_dir():
        raise NotADirectoryError(f"{top}: not a folder; give the folder that holds the DICOM files")
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            if name.upper() not in _SKIPPED_NAMES:
                yield Path(folder, name)


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_records(
    paths: Iterable[str | os.PathLike[str]], *, institution: str | None
) -> tuple[list[ImageRecord], list[tuple[str, str]]]:
    """Read and convert each file; return the records and the (path, reason) failures."""
    records: list[ImageRecord] = []
    failures: list[tuple[str, str]] = []
    for path in paths:
        try:
            ds = read_header(path)
            records.append(dcm2records(ds, institution=institution, filepath=path))
        except PermanentError as exc:
            failures.append((str(path), f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # pydicom raises many types on hostile input
            error = InvalidDicomError(path, f"cannot be parsed ({type(exc).__name__}: {exc})")
            failures.append((str(path), f"{type(error).__name__}: {error}"))
    return records, failures


def ingest_paths(
    engine: Engine,
    paths: Iterable[str | os.PathLike[str]],
    *,
    institution: str | None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> IngestSummary:
    """Store the given files in batches, one transaction per batch."""
    summary = IngestSummary()
    started = time.perf_counter()
    for batch in _batched(paths, batch_size):
        records, failures = read_records(batch, institution=institution)
        with session_scope(engine) as session:
            counts = insert_records(session, records)
        summary.files_seen += len(batch)
        summary.images_added += counts.images
        summary.already_present += len(records) - counts.images
        summary.patients_added += counts.patients
        summary.studies_added += counts.studies
        summary.series_added += counts.series
        summary.failures.extend(failures)
        LOGGER.info(
            "Ingested %d files (%d new images, %d failed so far)",
            summary.files_seen,
            summary.images_added,
            summary.failed,
        )
    summary.seconds = time.perf_counter() - started
    return summary


def parse_dir2sql(
    src: str | os.PathLike[str],
    conn_uri: str,
    institution_name: str | None = None,
    nb_threads: int = 1,
    create_tables: bool = False,
) -> IngestSummary:
    """Index every DICOM file under ``src`` into the database (seed API).

    Args:
        src: the folder to walk (recursively).
        conn_uri: the database URL.
        institution_name: stored with each patient and image; defaults to
            ``unknown_YYYYMMDD`` (today).
        nb_threads: accepted for the seed's signature. This function runs in
            one process; parallel ingest is the ``ingest-dir`` Prefect flow's job.
        create_tables: create the database and schema first when missing.

    Returns:
        The counts, with every failed file and its reason.

    Raises:
        NotADirectoryError: ``src`` is not a folder.
        PermanentError: the database has no pacsflow schema and ``create_tables`` is False.
    """
    del nb_threads  # see docstring
    institution = institution_name or default_institution()
    if create_tables:
        initialize_database(conn_uri)
    candidates = iter_dicom_candidates(src)
    engine = make_engine(conn_uri)
    try:
        if current_revision(conn_uri) is None:
            raise PermanentError(
                "the database has no pacsflow tables; run `pacsflow init-db` "
                "or pass create_tables=True"
            )
        summary = ingest_paths(engine, candidates, institution=institution)
    finally:
        engine.dispose()
    if summary.failed:
        LOGGER.warning(
            "%d of %d files could not be stored: %s",
            summary.failed,
            summary.files_seen,
            summary.failures_by_reason(),
        )
    return summary
