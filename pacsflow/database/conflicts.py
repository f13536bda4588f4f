"""Parent rows that files disagree about: found after each insert, recorded, never silent.

Patients, studies and series are keyed by PatientID and UIDs, and the first
file stored sets their other columns (first wins). A later image that
carries another value (a second PatientName for one PatientID, a study seen
under two PatientIDs, a series under two studies) gets one
``ingest_conflicts`` row per column: the UID of the image and the column,
no patient value. The image's own values stay in ``images``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from pacsflow.database.models.tables import INGEST_CONFLICTS, PATIENTS, SERIES, STUDIES
from pacsflow.database.upsert import IN_CHUNK, insert_run_log
from pacsflow.dicom.records import ImageRecord

__all__ = ["ParentConflict", "find_parent_conflicts", "record_conflicts"]

# Per parent table: its natural key and the columns a file may disagree on.
# studies.patient_id and series.study_id are foreign keys: a study under
# another patient, a series under another study.
_CHECKED: tuple[tuple[Table, str, tuple[str, ...]], ...] = (
    (PATIENTS, "patient_id", ("patient_name", "patient_birth_date")),
    (STUDIES, "study_uid", ("patient_id", "study_date", "accession_number")),
    (SERIES, "series_uid", ("study_id", "modality")),
)


@dataclass(frozen=True, slots=True)
class ParentConflict:
    """An image whose value for ``table_name.column_name`` differs from the stored row's."""

    image_uid: str
    path: str | None
    table_name: str
    column_name: str


def _stored(
    session: Session, table: Table, key: str, columns: Sequence[str], keys: Iterable[Any]
) -> dict[Any, tuple[Any, ...]]:
    wanted = sorted(set(keys))
    found: dict[Any, tuple[Any, ...]] = {}
    selected = [table.c[key], *(table.c[c] for c in columns)]
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        for row in session.execute(select(*selected).where(table.c[key].in_(chunk))):
            found[row[0]] = tuple(row[1:])
    return found


def find_parent_conflicts(
    session: Session,
    records: Sequence[ImageRecord],
    *,
    patient_ids: dict[str, int],
    study_ids: dict[str, int],
) -> list[ParentConflict]:
    """The columns where each record's parent values differ from the stored parent rows.

    A value the image lacks (None) is no conflict: it takes nothing away.

    Args:
        session: the session the records' parents were inserted with.
        records: the images to check (those this batch stored).
        patient_ids: ``patients.id`` by PatientID, for the records' patients.
        study_ids: ``studies.id`` by StudyInstanceUID, for the records' studies.
    """
    rows = {
        "patients": [r.patient for r in records],
        "studies": [
            {**r.study, "patient_id": patient_ids[r.patient["patient_id"]]} for r in records
        ],
        "series": [{**r.series, "study_id": study_ids[r.study["study_uid"]]} for r in records],
    }
    conflicts: list[ParentConflict] = []
    for table, key, columns in _CHECKED:
        table_rows = rows[table.name]
        stored = _stored(session, table, key, columns, (row[key] for row in table_rows))
        for record, row in zip(records, table_rows, strict=True):
            kept = stored.get(row[key])
            if kept is None:
                continue
            conflicts += [
                ParentConflict(
                    record.image["image_uid"], record.image["filepath"], table.name, column
                )
                for column, kept_value in zip(columns, kept, strict=True)
                if row.get(column) is not None and row[column] != kept_value
            ]
    return conflicts


def record_conflicts(
    session: Session, conflicts: Sequence[ParentConflict], flow_run_id: str | None
) -> None:
    """Write the conflicts to ``ingest_conflicts`` in the caller's transaction."""
    insert_run_log(session, INGEST_CONFLICTS, [asdict(c) for c in conflicts], flow_run_id)
