"""Database contents compared by natural keys: ids, times and run ids left out.

Two databases filled from the same files hold the same snapshot whatever the
order of the work, the batches or the crashes in between.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, func, select, text
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import (
    Image,
    IngestConflict,
    IngestError,
    Patient,
    Series,
    Study,
    StudyFind,
)

_ORPHANS = {
    "patients without a study": (
        "SELECT count(*) FROM patients p WHERE NOT EXISTS "
        "(SELECT 1 FROM studies s WHERE s.patient_id = p.id)"
    ),
    "studies without a series": (
        "SELECT count(*) FROM studies s WHERE NOT EXISTS "
        "(SELECT 1 FROM series r WHERE r.study_id = s.id)"
    ),
    "series without an image": (
        "SELECT count(*) FROM series r WHERE NOT EXISTS "
        "(SELECT 1 FROM images i WHERE i.series_id = r.id)"
    ),
    "images of another study than their series'": (
        "SELECT count(*) FROM images i JOIN series r ON r.id = i.series_id "
        "JOIN studies s ON s.id = r.study_id WHERE s.study_uid <> i.study_uid"
    ),
}


def snapshot(url: str) -> dict[str, Any]:
    """Every row of every table as comparable tuples, with foreign keys as natural keys.

    ``ingest_errors`` is a log of attempts (a re-run records a bad file again),
    so it is compared as the set of (path, error type) it names.
    """
    engine = make_engine(url)
    with Session(engine) as session:
        data: dict[str, Any] = {
            "patients": sorted(
                session.execute(
                    select(
                        Patient.patient_id,
                        Patient.patient_id_missing,
                        Patient.patient_name,
                        Patient.patient_birth_date,
                        Patient.institution,
                    )
                ).all()
            ),
            "studies": sorted(
                session.execute(
                    select(
                        Study.study_uid,
                        Patient.patient_id,
                        Study.study_date,
                        Study.patient_age,
                        Study.accession_number,
                    ).join(Patient, Patient.id == Study.patient_id)
                ).all()
            ),
            "series": sorted(
                session.execute(
                    select(Series.series_uid, Study.study_uid, Series.modality).join(
                        Study, Study.id == Series.study_id
                    )
                ).all()
            ),
            "images": sorted(
                session.execute(
                    select(
                        Image.image_uid,
                        Series.series_uid,
                        Image.patient_id,
                        Image.study_uid,
                        Image.filepath,
                        Image.file_size,
                        func.length(func.cast(Image.meta, Text())),
                    ).join(Series, Series.id == Image.series_id)
                ).all()
            ),
            "studies_find": sorted(
                session.execute(
                    select(StudyFind.study_uid, StudyFind.retrieved_on.is_not(None))
                ).all()
            ),
            "ingest_errors": sorted(
                set(session.execute(select(IngestError.path, IngestError.error_type)).all())
            ),
            # One row per stored image and column: a re-run must not add any.
            "ingest_conflicts": sorted(
                session.execute(
                    select(
                        IngestConflict.image_uid,
                        IngestConflict.table_name,
                        IngestConflict.column_name,
                    )
                ).all()
            ),
        }
    engine.dispose()
    return data


def orphans(url: str) -> dict[str, int]:
    """Rows that a half-written batch would leave: each count must be 0."""
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {name: conn.scalar(text(sql)) or 0 for name, sql in _ORPHANS.items()}
    engine.dispose()
    return counts
