"""The export's tables: the selected studies' patients, studies, series and images as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from pacsflow.database.dump import write_table_csv
from pacsflow.database.models import Image, Patient, Series, Study
from pacsflow.export.layout import TABLES_FOLDER, relative_file, write_atomically

__all__ = ["EXPORTED_TABLES", "write_export_tables"]

EXPORTED_TABLES = ("patients", "studies", "series", "images")


def _conditions(studies: Select[Any]) -> dict[str, ColumnElement[bool]]:
    study_ids = select(Study.id).where(Study.study_uid.in_(studies))
    return {
        "patients": Patient.id.in_(select(Study.patient_id).where(Study.study_uid.in_(studies))),
        "studies": Study.study_uid.in_(studies),
        "series": Series.study_id.in_(study_ids),
        "images": Image.study_uid.in_(studies),
    }


def _exported_path(row: dict[str, Any]) -> dict[str, Any]:
    """An image row pointing at its file in the export, not in pacsflow's storage."""
    try:
        row["filepath"] = relative_file(row["study_uid"], row["series_uid"], row["image_uid"])
    except ValueError:
        row["filepath"] = None
    return row


def write_export_tables(session: Session, studies: Select[Any], dest: Path) -> dict[str, int]:
    """Write ``dest/tables/<table>.csv`` for the studies ``studies`` selects; rows per table.

    Each file is written whole under ``.partial`` and renamed into place, so a
    reader never sees half a table. Image rows name their exported file
    (``files/<study>/<series>/<sop>.dcm``) instead of pacsflow's storage path.
    """
    conditions = _conditions(studies)
    counts = {}
    for name in EXPORTED_TABLES:

        def write(partial: Path, name: str = name) -> None:
            counts[name] = write_table_csv(
                session,
                name,
                partial,
                where=conditions[name],
                replace=_exported_path if name == "images" else None,
            )

        write_atomically(dest / TABLES_FOLDER / f"{name}.csv", dest, write)
    return counts
