"""The ``export`` flow: copy selected studies (files and tables) to a folder for a research team.

The studies are a cohort's, or those of a StudyDate range and modalities,
ingested from a PACS or a folder. Each study's files are one task, ``workers``
at once; then the tables and ``manifest.json`` are written. Re-running it
writes only what is missing. The selection is made before anything is
written: an unknown cohort fails, and a selection of no study leaves ``dest``
as it was (not created, not bound to the export's settings).

A plain copy holds the patient data as pacsflow stores it, for the trusted
zone only. A pseudonymised one (``pseudonymise`` given) applies DICOM PS3.15 Annex
E's Basic Profile with keyed pseudonyms (:mod:`pacsflow.export.pseudonymise`)
to files, tables and header JSON, in the worker processes of
:mod:`flows.workers` (one study per task, ``workers`` at once); the linkage stays in
pacsflow's database. The key comes from ``$PACSFLOW_PSEUDONYM_KEY`` or the
Prefect Secret block named by ``pseudonymise.key_block``; it is never a flow parameter.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.config import open_database, pseudonym_key_from_env
from flows.options import Pseudonymisation
from flows.progress import FlowProgress
from flows.results import ExportSummary
from flows.run_names import export_run_name
from flows.workers import pool_processes, pooled_runner
from pacsflow.export.manifest import plain_settings
from pacsflow.export.pseudonym_key import PseudonymKey
from pacsflow.export.pseudonymise import PseudonymProfile
from pacsflow.export.record_tables import new_rows_run
from pacsflow.export.selection import ExportSelection
from pacsflow.export.study_files import StudyCopy
from pacsflow.export.tables import EXPORTED_TABLES
from tasks.database import init_db_task
from tasks.export import (
    export_pseudonymised_study_task,
    export_study_files_task,
    prepare_export_task,
    select_export_task,
    write_export_manifest_task,
    write_export_tables_task,
    write_pseudonymised_tables_task,
)

__all__ = ["export_flow", "pseudonym_key"]


def pseudonym_key(key_block: str | None) -> PseudonymKey:
    """The key in the Prefect Secret block ``key_block``, else in ``$PACSFLOW_PSEUDONYM_KEY``.

    Raises:
        MissingPseudonymKeyError: no key, or one too short.
        ValueError: no Secret block of that name.
    """
    if key_block:
        from prefect.blocks.system import Secret

        secret: Any = Secret.load(key_block)  # sync here: this is a sync flow
        return PseudonymKey(str(secret.get()))
    return pseudonym_key_from_env()


def _processes(workers: int, pseudonymise: bool) -> int:
    """The process pool's size: copying waits on the disk (threads only, 0), pseudonymising
    is CPU work (a pool of ``workers`` processes, when more than one)."""
    return pool_processes(workers) if pseudonymise else 0


def _nothing_selected(started: float) -> ExportSummary:
    """The summary of an export that selected no study."""
    seconds = round(time.perf_counter() - started, 3)
    return ExportSummary(0, 0, 0, 0, 0, 0, dict.fromkeys(EXPORTED_TABLES, 0), seconds, 0.0, None)


@flow(name="export", flow_run_name=export_run_name)
def export_flow(
    dest: str,
    selection: ExportSelection | None = None,
    workers: int = 2,
    db_url: str | None = None,
    show_progress: bool = False,
    pseudonymise: Pseudonymisation | None = None,
) -> ExportSummary:
    """Export the selected studies to ``dest``: ``files/``, ``tables/``, ``manifest.json``.

    Args:
        dest: the export folder (created when missing; a re-run completes it).
        selection: ``cohort`` (a cohort's studies), ``start`` / ``end`` (StudyDate),
            ``modalities`` (studies with a series of one of them); default: every
            ingested study.
        workers: studies written at once.
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).
        show_progress: draw a progress bar when standard error is a terminal.
        pseudonymise: apply the Annex E Basic Profile with modified dates and keyed
            pseudonyms: ``key_block`` (a Prefect Secret block holding the key; default
            ``$PACSFLOW_PSEUDONYM_KEY``), ``retain_patient_characteristics`` (keep
            age, sex, size and weight), ``exclude_burned_in`` (leave out files whose
            pixels may hold text). Default: a plain copy.

    Returns:
        Counts: studies, files written, files kept (already exported), files
        missing (unreadable sources), files to review and excluded (pixel text),
        table rows, seconds (all, and writing the files); and the manifest's path
        (None when no study was selected: nothing was written).

    Raises:
        UnknownCohortError: ``selection.cohort`` is not a cohort of the database.
        UnwritableDestinationError: ``dest`` cannot be created or written.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    selection = selection or ExportSelection()
    folder = str(Path(dest).resolve())
    key, profile = None, None
    settings = plain_settings()
    run = new_rows_run()
    if pseudonymise is not None:
        key = pseudonym_key(pseudonymise.key_block)
        profile = PseudonymProfile(
            pseudonymise.retain_patient_characteristics, pseudonymise.exclude_burned_in
        )
        settings = profile.settings(key)
    db_url = open_database(db_url)
    init_db_task(db_url)
    studies = select_export_task(db_url, selection)
    if not studies:
        logger.info("No ingested study matches the selection: nothing written to %s", folder)
        return _nothing_selected(started)
    prepare_export_task(folder, selection, settings)
    logger.info("%d studies to export (%s) to %s", len(studies), settings["profile"], folder)
    copies: list[StudyCopy] = []
    progress = FlowProgress(
        len(studies),
        key="export-progress",
        description=f"Exporting {len(studies)} studies",
        show_bar=show_progress,
    )
    files_started = time.perf_counter()
    processes = _processes(workers, pseudonymise is not None)
    with pooled_runner(workers, processes) as runner, progress:
        futures = [
            runner.submit(export_pseudonymised_study_task, {
                "db_url": db_url, "study_uid": uid, "dest": folder, "key": key, "profile": profile,
                "run": run, "processes": processes,
            })
            if pseudonymise is not None
            else runner.submit(
                export_study_files_task, {"db_url": db_url, "study_uid": uid, "dest": folder}
            )
            for uid in studies
        ]  # fmt: skip
        for future in futures:
            copies.append(future.result())
            progress.advance(1)
    files_seconds = time.perf_counter() - files_started
    if pseudonymise is not None:
        rows = write_pseudonymised_tables_task(folder, run, [c.study_uid for c in copies])
    else:
        rows = write_export_tables_task(db_url, selection, folder)
    summary = ExportSummary(
        studies=len(studies),
        files_copied=sum(c.copied for c in copies),
        files_kept=sum(c.kept for c in copies),
        files_missing=sum(len(c.missing) for c in copies),
        files_to_review=sum(len(c.review) for c in copies),
        files_excluded=sum(len(c.excluded) for c in copies),
        rows=rows,
        seconds=0.0,
        files_seconds=round(files_seconds, 3),
        manifest=None,
    )
    manifest = write_export_manifest_task(folder, selection, summary.counts(), settings, copies)
    summary = replace(summary, seconds=round(time.perf_counter() - started, 3), manifest=manifest)
    create_markdown_artifact(
        "\n".join(
            [
                f"# {settings['profile']} export to {folder}",
                "",
                f"- studies: {summary.studies}",
                f"- files written: {summary.files_copied}, already there: "
                f"{summary.files_kept}, unreadable: {summary.files_missing}",
                f"- pixels to review: {summary.files_to_review}, "
                f"left out: {summary.files_excluded}",
                f"- table rows: {rows}",
            ]
        ),
        key="export-summary",
        description="export",
    )
    logger.info(
        "Done: %d studies, %d files written, %d already exported, %d unreadable, "
        "%d to review for pixel text, %d left out in %.1f s",
        summary.studies,
        summary.files_copied,
        summary.files_kept,
        summary.files_missing,
        summary.files_to_review,
        summary.files_excluded,
        summary.seconds,
    )
    return summary
