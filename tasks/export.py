"""Tasks of the ``export`` flow: select the studies, write their files, tables and manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.database.session import session_scope
from pacsflow.export.layout import prepare_destination, remove_partial_folder
from pacsflow.export.linkage import record_linkage
from pacsflow.export.manifest import start_manifest, write_manifest
from pacsflow.export.pseudonym_key import PseudonymKey
from pacsflow.export.pseudonymise import Pseudonymiser, PseudonymProfile
from pacsflow.export.pseudonymised_files import export_pseudonymised_study
from pacsflow.export.record_tables import remove_study_rows, write_record_tables
from pacsflow.export.selection import ExportSelection, selected_query, selected_studies
from pacsflow.export.study_files import StudyCopy, export_study_files
from pacsflow.export.tables import write_export_tables
from pacsflow.export.worker import export_pseudonymised_study_at
from tasks.credentials import connect_url
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES
from tasks.worker_pool import in_pool

__all__ = [
    "export_pseudonymised_study_task",
    "export_study_files_task",
    "prepare_export_task",
    "select_export_task",
    "write_export_manifest_task",
    "write_export_tables_task",
    "write_pseudonymised_tables_task",
]


@task(name="select-export", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def select_export_task(db_url: str, selection: ExportSelection) -> list[str]:
    """The selected studies' UIDs (an unknown cohort raises ``UnknownCohortError``)."""
    with session_scope(engine_for(db_url)) as session:
        return selected_studies(session, selection)


@task(name="prepare-export", cache_policy=NO_CACHE)
def prepare_export_task(dest: str, selection: ExportSelection, settings: dict[str, Any]) -> None:
    """Create ``dest`` and bind it to ``settings`` (or check that it is bound to them)."""
    prepare_destination(Path(dest))
    start_manifest(Path(dest), selection.describe(), settings)


@task(name="export-study-files", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def export_study_files_task(db_url: str, study_uid: str, dest: str) -> StudyCopy:
    """Copy one study's files into the export (what is there already is kept)."""
    with session_scope(engine_for(db_url)) as session:
        return export_study_files(session, study_uid, Path(dest))


@task(name="pseudonymise-study", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def export_pseudonymised_study_task(
    db_url: str,
    study_uid: str,
    dest: str,
    key: PseudonymKey,
    profile: PseudonymProfile,
    run: str,
    processes: int = 0,
) -> StudyCopy:
    """Write one study's files pseudonymised and record their linkage in the database.

    With ``processes`` (> 0) the study is written by a worker of the process pool
    of that size (:mod:`tasks.worker_pool`), else here.
    """
    if processes:
        url = connect_url(db_url)
        return in_pool(
            processes, export_pseudonymised_study_at, url, study_uid, dest, key, profile, run
        )
    pseudonymiser = Pseudonymiser(key, profile)
    with session_scope(engine_for(db_url)) as session:
        done = export_pseudonymised_study(session, study_uid, Path(dest), pseudonymiser, run)
        record_linkage(session, pseudonymiser)
    return done


@task(name="write-export-tables", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def write_export_tables_task(db_url: str, selection: ExportSelection, dest: str) -> dict[str, int]:
    """Write the selected studies' patients, studies, series and images as CSV; rows each."""
    with session_scope(engine_for(db_url)) as session:
        return write_export_tables(session, selected_query(session, selection), Path(dest))


@task(name="write-pseudonymised-tables", cache_policy=NO_CACHE)
def write_pseudonymised_tables_task(dest: str, run: str, study_uids: list[str]) -> dict[str, int]:
    """Write the tables from the rows run ``run`` saved (pseudonymous study UIDs); rows each."""
    counts = write_record_tables(Path(dest), run, study_uids)
    remove_study_rows(Path(dest), run)
    return counts


@task(name="write-export-manifest", cache_policy=NO_CACHE)
def write_export_manifest_task(
    dest: str,
    selection: ExportSelection,
    counts: dict[str, Any],
    settings: dict[str, Any],
    copies: list[StudyCopy],
) -> str:
    """Write the final ``manifest.json`` and remove ``.partial`` if nothing is left in it;
    the manifest's path."""
    path = write_manifest(
        Path(dest),
        selection.describe(),
        counts,
        settings=settings,
        pixel_review=[name for c in copies for name in c.review],
        excluded=[name for c in copies for name in c.excluded],
    )
    remove_partial_folder(Path(dest))
    return str(path)
