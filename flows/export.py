"""The ``export`` flow: copy selected studies (files and tables) to a folder for a research team.

The studies are a cohort's, or those of a StudyDate range and modalities,
ingested from a PACS or a folder. Each study's files are an
``export-study-files`` task (a thread pool, ``workers`` at once); then the
tables and ``manifest.json`` are written. Re-running it copies only what is
missing. The copy is plain: the files and tables hold the patient data as
pacsflow stores it, for the trusted zone only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.progress import FlowProgress
from pacsflow.export.selection import ExportSelection
from pacsflow.export.study_files import StudyCopy
from tasks.database import init_db_task
from tasks.export import (
    export_study_files_task,
    select_export_task,
    write_export_manifest_task,
    write_export_tables_task,
)

__all__ = ["export_flow"]


@flow(name="export")
def export_flow(
    dest: str,
    selection: ExportSelection | None = None,
    workers: int = 2,
    db_url: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Export the selected studies to ``dest``: ``files/``, ``tables/``, ``manifest.json``.

    Args:
        dest: the export folder (created when missing; a re-run completes it).
        selection: ``cohort`` (a cohort's studies), ``start`` / ``end`` (StudyDate),
            ``modalities`` (studies with a series of one of them); default: every
            ingested study.
        workers: studies copied at once.
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        Counts: studies, files copied, files kept (already exported), files
        missing (unreadable sources), table rows, seconds; and the manifest's path.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    selection = selection or ExportSelection()
    folder = str(Path(dest).resolve())
    init_db_task(db_url)
    studies = select_export_task(db_url, selection, folder)
    logger.info("%d studies to export to %s", len(studies), folder)
    copies: list[StudyCopy] = []
    progress = FlowProgress(
        len(studies),
        key="export-progress",
        description=f"Exporting {len(studies)} studies",
        show_bar=show_progress,
    )
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=max(1, workers))
    with runner, progress:
        futures = [
            runner.submit(
                export_study_files_task, {"db_url": db_url, "study_uid": uid, "dest": folder}
            )
            for uid in studies
        ]
        for future in futures:
            copies.append(future.result())
            progress.advance(1)
    rows = write_export_tables_task(db_url, selection, folder)
    counts: dict[str, Any] = {
        "studies": len(studies),
        "files_copied": sum(c.copied for c in copies),
        "files_kept": sum(c.kept for c in copies),
        "files_missing": sum(len(c.missing) for c in copies),
        "rows": rows,
    }
    manifest = write_export_manifest_task(folder, selection, counts)
    summary = {**counts, "seconds": round(time.perf_counter() - started, 3), "manifest": manifest}
    create_markdown_artifact(
        "\n".join(
            [
                f"# export to {folder}",
                "",
                f"- studies: {counts['studies']}",
                f"- files copied: {counts['files_copied']}, already there: "
                f"{counts['files_kept']}, unreadable: {counts['files_missing']}",
                f"- table rows: {rows}",
            ]
        ),
        key="export-summary",
        description="export",
    )
    logger.info(
        "Done: %d studies, %d files copied, %d already exported, %d unreadable in %.1f s",
        counts["studies"],
        counts["files_copied"],
        counts["files_kept"],
        counts["files_missing"],
        summary["seconds"],
    )
    return summary
