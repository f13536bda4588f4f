"""The seed's single-item functions, each committing, and its folder parser.

The core works in batches inside transactions its callers own; these keep
the seed's promises on top of it: one item at a time, committed.
"""

from __future__ import annotations

import logging
import os
from os import PathLike

from pydicom.dataset import Dataset
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pacsflow.compat.conversion import record_of
from pacsflow.compat.sessions import committed
from pacsflow.database.crud import add_found_studies, insert_records
from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, StudyFind, utc_now
from pacsflow.database.models.tables import STUDIES_FIND
from pacsflow.database.schema import initialize_database
from pacsflow.dicom.records import study_finding_row
from pacsflow.ingest.batch import BatchResult, default_institution, require_schema
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.ingest.folders import require_folder
from pacsflow.retrieval.attempts import StudyPick, unretrieved

LOGGER = logging.getLogger(__name__)

__all__ = [
    "add_found_study",
    "add_image",
    "get_studies_to_move",
    "get_study_uids_to_move",
    "parse_dir2sql",
    "update_retrieved_study",
]


def add_image(
    session: Session,
    dcm: str | PathLike[str] | Dataset,
    institution: str | None = None,
    filepath: str | PathLike[str] | None = None,
) -> Image | None:
    """Insert one image (and its patient, study, series when new), then commit.

    Args:
        session: the session to write with; it is committed.
        dcm: a dataset, or the path of a DICOM file (then ``filepath`` is that path).
        institution: stored with the patient and the image.
        filepath: stored in ``images.filepath``.

    Returns:
        The stored image, or None when an image with the same SOPInstanceUID
        already exists (nothing else in the session is undone).

    Raises:
        InvalidDicomError: ``dcm`` is a path to something that is not readable DICOM.
        MissingTagError / InvalidTagError: a required UID is missing or invalid.
    """
    record = record_of(dcm, institution, filepath)
    with committed(session):
        counts = insert_records(session, [record])
    image_id = counts.image_ids.get(record.image["image_uid"])
    return session.get(Image, image_id) if image_id is not None else None


def add_found_study(session: Session, dcm: Dataset) -> StudyFind | None:
    """Record one C-FIND answer and commit.

    Returns:
        The new ``studies_find`` row, or None when the study was already recorded.

    Raises:
        MissingTagError / InvalidTagError: the answer has no valid StudyInstanceUID.
    """
    study_uid = study_finding_row(dcm)["study_uid"]  # raises for an answer without one
    with committed(session):
        inserted = add_found_studies(session, [dcm]).inserted
    if not inserted:
        return None
    return session.scalars(select(StudyFind).where(StudyFind.study_uid == study_uid)).one()


def get_studies_to_move(session: Session, *, limit: int | None = None) -> list[StudyFind]:
    """The found studies not retrieved yet, oldest study date first.

    Args:
        session: the session to read with.
        limit: at most this many studies (all when None).
    """
    return list(session.scalars(unretrieved(select(StudyFind), StudyPick()).limit(limit)))


def get_study_uids_to_move(session: Session, *, limit: int | None = None) -> list[str]:
    """The StudyInstanceUIDs of :func:`get_studies_to_move`, in the same order."""
    query = unretrieved(select(StudyFind.study_uid), StudyPick()).limit(limit)
    return list(session.scalars(query))


def update_retrieved_study(session: Session, study_uid: str) -> StudyFind | None:
    """Mark a found study retrieved (now) and commit.

    One conditional UPDATE: an already retrieved study keeps its first
    ``retrieved_on``, and two workers marking it at once keep the first time.

    Returns:
        The ``studies_find`` row, or None when no study with that UID was found.
    """
    with committed(session):
        session.execute(
            update(STUDIES_FIND)
            .where(STUDIES_FIND.c.study_uid == study_uid, STUDIES_FIND.c.retrieved_on.is_(None))
            .values(retrieved_on=utc_now())
        )
    query = select(StudyFind).where(StudyFind.study_uid == study_uid)
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def parse_dir2sql(
    src: str | os.PathLike[str],
    conn_uri: str,
    institution_name: str | None = None,
    nb_threads: int = 1,
    create_tables: bool = False,
) -> BatchResult:
    """Index every DICOM file under ``src`` into the database, in this process.

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
    require_folder(src)  # before touching the database
    if create_tables:
        initialize_database(conn_uri)
    require_schema(conn_uri)

    def progress(batch: BatchResult) -> None:
        LOGGER.info("Ingested a batch of %d files", batch.files_seen)

    engine = make_engine(conn_uri)
    try:
        total = ingest_folder(
            engine, src, institution=institution_name or default_institution(), on_result=progress
        )
    finally:
        engine.dispose()
    if total.failed:
        LOGGER.warning(
            "%d of %d files could not be stored (see ingest_errors): %s",
            total.failed,
            total.files_seen,
            total.failed_by_reason,
        )
    return total
