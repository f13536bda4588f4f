"""Data access: insert found studies and images, pick studies to move, mark them retrieved.

The batch functions (:func:`insert_records`, :func:`add_images`,
:func:`add_found_studies`) take a session, never commit, and write with one
multi-row ``INSERT ... ON CONFLICT DO NOTHING`` per table. The seed's
single-item functions, which commit, are built on them in :mod:`pacsflow.db`.
No function uses ``rollback()`` to handle a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pacsflow.database.conflicts import find_parent_conflicts, record_conflicts
from pacsflow.database.models import utc_now
from pacsflow.database.models.tables import IMAGES, PATIENTS, SERIES, STUDIES, STUDIES_FIND
from pacsflow.database.upsert import IN_CHUNK, insert_ignore, key_to_id, unique_by
from pacsflow.dicom.records import ImageRecord, dcm2records, study_finding_row
from pacsflow.errors import PermanentError

LOGGER = logging.getLogger(__name__)

__all__ = [
    "AddImagesResult",
    "FoundStudiesResult",
    "InsertCounts",
    "add_found_studies",
    "add_images",
    "insert_records",
    "link_found_studies",
]


@dataclass
class InsertCounts:
    """How many rows one batch added to each table (existing rows are not counted)."""

    patients: int = 0
    studies: int = 0
    series: int = 0
    images: int = 0
    #: Parent columns the inserted images disagreed on (rows added to ingest_conflicts).
    conflicts: int = 0
    #: SOPInstanceUID -> images.id of the images this batch inserted.
    image_ids: dict[str, int] = field(default_factory=dict)

    def __iadd__(self, other: InsertCounts) -> InsertCounts:
        self.patients += other.patients
        self.studies += other.studies
        self.series += other.series
        self.images += other.images
        self.conflicts += other.conflicts
        self.image_ids.update(other.image_ids)
        return self


@dataclass
class AddImagesResult:
    """What :func:`add_images` stored, and the inputs it could not convert, with why."""

    counts: InsertCounts
    #: (file path or None, reason) for each dataset that was not stored.
    failures: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass
class FoundStudiesResult:
    """What :func:`add_found_studies` stored and how many answers it had to skip."""

    inserted: int = 0
    #: Reasons for the C-FIND answers that could not be stored (no valid StudyInstanceUID).
    invalid: list[str] = field(default_factory=list)


# --- Images ------------------------------------------------------------------


def insert_records(
    session: Session, records: Sequence[ImageRecord], *, flow_run_id: str | None = None
) -> InsertCounts:
    """Insert a batch of converted instances with their patients, studies and series.

    Existing rows (same natural key) are kept as they are and reused as
    parents; images already present are skipped. Each inserted image whose
    parent values differ from the kept ones gets ``ingest_conflicts`` rows
    (:mod:`pacsflow.database.conflicts`), tagged with ``flow_run_id``. A study found
    earlier by C-FIND gets its ``study_find_id``. Does not commit.
    """
    counts = InsertCounts()
    if not records:
        return counts

    patients = unique_by((r.patient for r in records), "patient_id")
    counts.patients = len(insert_ignore(session, PATIENTS, patients, "patient_id"))
    patient_ids = key_to_id(session, PATIENTS, "patient_id", (p["patient_id"] for p in patients))

    study_uids = {r.study["study_uid"] for r in records}
    find_ids = key_to_id(session, STUDIES_FIND, "study_uid", study_uids)
    studies = unique_by(
        (
            {
                **r.study,
                "patient_id": patient_ids[r.patient["patient_id"]],
                "study_find_id": find_ids.get(r.study["study_uid"]),
            }
            for r in records
        ),
        "study_uid",
    )
    counts.studies = len(insert_ignore(session, STUDIES, studies, "study_uid"))
    if find_ids:
        link_found_studies(session, find_ids)
    study_ids = key_to_id(session, STUDIES, "study_uid", study_uids)

    series = unique_by(
        ({**r.series, "study_id": study_ids[r.study["study_uid"]]} for r in records),
        "series_uid",
    )
    counts.series = len(insert_ignore(session, SERIES, series, "series_uid"))
    series_ids = key_to_id(session, SERIES, "series_uid", (s["series_uid"] for s in series))

    images = unique_by(
        ({**r.image, "series_id": series_ids[r.series["series_uid"]]} for r in records),
        "image_uid",
    )
    inserted = insert_ignore(session, IMAGES, images, "image_uid")
    counts.images = len(inserted)
    if inserted:
        counts.image_ids = key_to_id(session, IMAGES, "image_uid", inserted)
        first_of = {r.image["image_uid"]: r for r in reversed(records)}
        conflicts = find_parent_conflicts(
            session,
            [first_of[uid] for uid in inserted],
            patient_ids=patient_ids,
            study_ids=study_ids,
        )
        record_conflicts(session, conflicts, flow_run_id)
        counts.conflicts = len(conflicts)
    return counts


def add_images(
    session: Session,
    items: Iterable[Dataset | tuple[Dataset, str | PathLike[str] | None]],
    *,
    institution: str | None = None,
) -> AddImagesResult:
    """Convert and insert a batch of datasets (optionally with their file paths).

    Datasets that cannot be converted (a missing or invalid required UID) are
    reported in ``failures`` and the rest are stored. Does not commit.
    """
    records: list[ImageRecord] = []
    failures: list[tuple[str | None, str]] = []
    for item in items:
        ds, path = item if isinstance(item, tuple) else (item, None)
        try:
            records.append(dcm2records(ds, institution=institution, filepath=path))
        except PermanentError as exc:
            failures.append((str(path) if path is not None else None, str(exc)))
    return AddImagesResult(counts=insert_records(session, records), failures=failures)


# --- Studies found by C-FIND --------------------------------------------------


def link_found_studies(session: Session, find_ids: dict[str, int]) -> None:
    """Point ``studies.study_find_id`` at the C-FIND record of each study that lacks it."""
    uids = sorted(find_ids)
    for start in range(0, len(uids), IN_CHUNK):
        chunk = uids[start : start + IN_CHUNK]
        session.execute(
            update(STUDIES)
            .where(STUDIES.c.study_uid.in_(chunk), STUDIES.c.study_find_id.is_(None))
            .values(
                study_find_id=select(STUDIES_FIND.c.id)
                .where(STUDIES_FIND.c.study_uid == STUDIES.c.study_uid)
                .scalar_subquery()
            )
        )


def _found_rows(datasets: Iterable[Dataset]) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    invalid: list[str] = []
    for ds in datasets:
        try:
            rows.append({**study_finding_row(ds), "found_on": utc_now()})
        except PermanentError as exc:
            invalid.append(str(exc))
    return unique_by(rows, "study_uid"), invalid


def add_found_studies(session: Session, datasets: Iterable[Dataset]) -> FoundStudiesResult:
    """Record a batch of C-FIND answers in ``studies_find``; repeats are ignored.

    Answers without a valid StudyInstanceUID are counted in ``invalid``. A study
    already ingested gets linked to its new C-FIND record. Does not commit.
    """
    rows, invalid = _found_rows(datasets)
    inserted = insert_ignore(session, STUDIES_FIND, rows, "study_uid")
    if inserted:
        link_found_studies(session, key_to_id(session, STUDIES_FIND, "study_uid", inserted))
    if invalid:
        LOGGER.warning("%d C-FIND answers had no valid StudyInstanceUID", len(invalid))
    return FoundStudiesResult(inserted=len(inserted), invalid=invalid)
