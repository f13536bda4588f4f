"""Tasks of the ``export`` flow: select the studies, copy their files, write tables and manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.database.session import session_scope
from pacsflow.export.layout import prepare_destination
from pacsflow.export.manifest import write_manifest
from pacsflow.export.selection import ExportSelection, selected_query, selected_studies
from pacsflow.export.study_files import StudyCopy, export_study_files
from pacsflow.export.tables import write_export_tables
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES

__all__ = [
    "export_study_files_task",
    "select_export_task",
    "write_export_manifest_task",
    "write_export_tables_task",
]


@task(name="select-export", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def select_export_task(db_url: str | None, selection: ExportSelection, dest: str) -> list[str]:
    """Prepare ``dest`` and return the selected studies' UIDs, oldest first."""
    prepare_destination(Path(dest))
    with session_scope(engine_for(db_url)) as session:
        return selected_studies(session, selection)


@task(name="export-study-files", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def export_study_files_task(db_url: str | None, study_uid: str, dest: str) -> StudyCopy:
    """Copy one study's files into the export (what is there already is kept)."""
    with session_scope(engine_for(db_url)) as session:
        return export_study_files(session, study_uid, Path(dest))


@task(name="write-export-tables", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def write_export_tables_task(
    db_url: str | None, selection: ExportSelection, dest: str
) -> dict[str, int]:
    """Write the selected studies' patients, studies, series and images as CSV; rows each."""
    with session_scope(engine_for(db_url)) as session:
        return write_export_tables(session, selected_query(session, selection), Path(dest))


@task(name="write-export-manifest", cache_policy=NO_CACHE)
def write_export_manifest_task(
    dest: str, selection: ExportSelection, counts: dict[str, Any]
) -> str:
    """Write ``manifest.json``; its path."""
    return str(write_manifest(Path(dest), selection.describe(), counts))
