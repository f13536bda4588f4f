"""The ``pipeline`` flow: pacsflow's main job, from a PACS to a research database.

init-db -> find studies (C-FIND over the date range, recorded in
``studies_find``) -> pick the studies not retrieved yet -> retrieve each one
(C-MOVE into the storage SCP, ingest) -> mark it retrieved when complete.
The find and move steps are the ``find-studies`` and ``move-studies`` flows,
run as subflows, so each shows in the UI with its own summary.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.dates import DateRange, resolve_range, resolve_retrieval_window
from flows.find_studies import find_studies_flow
from flows.move_studies import move_studies_flow
from flows.options import Retrieval, Selection
from flows.run_names import pipeline_run_name
from flows.summaries import check_complete, summary_markdown
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.attempts import StudyPick
from pacsflow.retrieval.series_filter import SeriesFilter
from tasks.database import init_db_task
from tasks.settings import resolve_local, resolve_pacs, resolve_storage

__all__ = ["pipeline"]


@flow(name="pipeline", flow_run_name=pipeline_run_name)
def pipeline(
    dates: DateRange | None = None,
    pacs: PacsNode | None = None,
    local: LocalAE | None = None,
    storage: str | None = None,
    selection: Selection | None = None,
    series: SeriesFilter | None = None,
    retrieval: Retrieval | None = None,
    db_url: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Find the studies of a date range on the PACS and retrieve them.

    Args:
        dates: the study dates to find: ``start_date`` and ``end_date``, or
            ``days_back`` (the N days before the run's scheduled date; 1:
            yesterday), so a nightly schedule needs no date parameters.
        pacs: the PACS and its ``transport`` (``c-move``, ``c-get``, or ``dicomweb``
            with ``dicomweb_url``); default $PACSFLOW_PACS_AET, $PACSFLOW_PACS_HOST,
            $PACSFLOW_PACS_PORT, $PACSFLOW_TRANSPORT, $PACSFLOW_PACS_DICOMWEB_URL.
        local: pacsflow's AE: ``ae_title`` (the calling AE and the C-MOVE
            destination), the storage SCP's ``port`` and ``bind_address``, which
            the PACS must reach (default $PACSFLOW_LOCAL_AET, $PACSFLOW_LOCAL_PORT,
            $PACSFLOW_LOCAL_BIND, else PACSFLOW on 127.0.0.1:11112).
        storage: the folder receiving the files (default $PACSFLOW_STORAGE, else
            ./pacsflow-storage).
        selection: which studies to move: ``modalities``, ``limit`` (this run),
            ``max_attempts`` (studies tried this often are reported, not moved
            again), ``retry_earlier`` (also the unretrieved studies dated before
            the range, found by earlier runs; default true).
        series: retrieve only the series it selects (``modalities``,
            ``include_descriptions``, ``exclude_descriptions``, ``series_numbers``);
            default: whole studies.
        retrieval: ``concurrency`` (studies moved at once), ``result_cap`` (the
            number of C-FIND answers at which the PACS stops), ``institution``
            (stored with patients and images; default: the PACS AE title).
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The find counts under ``find``, the move counts under ``move``, and the
        headline figures (studies found, picked, complete, partial, failed,
        images added, seconds) at the top level.
    """
    started = time.perf_counter()
    pacs = pacs or resolve_pacs(None, None, None)
    local = local or resolve_local(None, None, None)
    selection = selection or Selection()
    retrieval = resolve_retrieval_window(retrieval or Retrieval())
    first_day, last_day = resolve_range(dates)
    init_db_task(db_url)
    found = find_studies_flow(
        dates=DateRange(first_day, last_day),
        pacs=pacs,
        local=local,
        modalities=selection.modalities,
        result_cap=retrieval.result_cap,
        db_url=db_url,
    )
    pick = StudyPick(
        limit=selection.limit,
        modalities=selection.modalities,
        start_date=None if selection.retry_earlier else first_day,
        end_date=last_day,
        max_attempts=selection.max_attempts,
    )
    moved = move_studies_flow(
        pacs=pacs,
        local=local,
        storage=resolve_storage(storage),
        pick=pick,
        series=series,
        retrieval=replace(retrieval, fail_on_incomplete=False),
        db_url=db_url,
        show_progress=show_progress,
    )
    summary: dict[str, Any] = {
        "studies_found": found["studies_found"],
        "studies_new": found["studies_new"],
        "find_queries": found["queries"],
        **{k: v for k, v in moved.items() if k not in ("seconds", "images_per_second")},
        "seconds": round(time.perf_counter() - started, 3),
        "find": found,
        "move": moved,
    }
    create_markdown_artifact(
        summary_markdown(f"pipeline {first_day}..{last_day} from {pacs}", summary),
        key="pipeline-summary",
        description=f"pipeline {first_day}..{last_day} from {pacs}",
    )
    get_run_logger().info(
        "Pipeline done: %d studies found (%d new), %d complete, %d partial, %d failed, "
        "%d skipped in %.1f s",
        summary["studies_found"],
        summary["studies_new"],
        summary["studies_complete"],
        summary["studies_partial"],
        summary["studies_failed"],
        summary["studies_skipped"],
        summary["seconds"],
    )
    if retrieval.fail_on_incomplete:
        check_complete(summary, f"pipeline {first_day}..{last_day} from {pacs}")
    return summary
