"""The ``cohort`` flow: retrieve what a research request names, item by item.

record the cohort (its file's rows, or a recorded cohort by name) -> C-ECHO
-> C-FIND each item, one exact-key query per item on one association ->
pick the cohort's unretrieved studies -> retrieve them (the ``move-studies``
flow: same claims, retries and completeness, with the cohort's series
filter) -> each item's status. Item keys (accession numbers, patient IDs,
study UIDs) never reach Prefect: the parameters hold a file path or a name,
and logs and artifacts name items by row number.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.dates import resolve_retrieval_window
from flows.move_studies import move_studies_flow
from flows.options import CohortSelection, Retrieval
from flows.run_names import cohort_run_name
from flows.summaries import check_complete, summary_markdown
from pacsflow.cohorts.cohort_file import CohortSource
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.attempts import StudyPick
from pacsflow.retrieval.series_filter import SeriesFilter
from tasks.cohorts import cohort_status_task, find_cohort_task, record_cohort_task
from tasks.database import init_db_task
from tasks.pacs import echo_task
from tasks.settings import resolve_local, resolve_pacs, resolve_storage

__all__ = ["cohort_flow"]


@flow(name="cohort", flow_run_name=cohort_run_name)
def cohort_flow(
    cohort: CohortSource,
    pacs: PacsNode | None = None,
    local: LocalAE | None = None,
    storage: str | None = None,
    series: SeriesFilter | None = None,
    selection: CohortSelection | None = None,
    retrieval: Retrieval | None = None,
    db_url: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Find and retrieve the studies a cohort file names, and report each item by row.

    Args:
        cohort: ``file`` (a CSV with AccessionNumber, PatientID and/or
            StudyInstanceUID columns, optionally StudyDate and ModalitiesInStudy)
            and/or ``name`` (default: the file's name; alone, a recorded cohort
            is run again). A re-run moves only what is still missing.
        pacs: the PACS and its ``transport`` (``c-move``, ``c-get``, or ``dicomweb``
            with ``dicomweb_url``); default $PACSFLOW_PACS_AET, $PACSFLOW_PACS_HOST,
            $PACSFLOW_PACS_PORT, $PACSFLOW_TRANSPORT, $PACSFLOW_PACS_DICOMWEB_URL.
        local: pacsflow's AE and storage SCP (default $PACSFLOW_LOCAL_AET,
            $PACSFLOW_LOCAL_PORT, $PACSFLOW_LOCAL_BIND, else PACSFLOW on 127.0.0.1:11112).
        storage: the folder receiving the files (default $PACSFLOW_STORAGE, else
            ./pacsflow-storage).
        series: retrieve only these series (``modalities``, ``include_descriptions``,
            ``exclude_descriptions``, ``series_numbers``); stored with the cohort on
            its first run and applied by every re-run. Default: whole studies.
        selection: ``limit`` (studies moved by this run) and ``max_attempts``.
        retrieval: ``concurrency`` (studies moved at once) and ``institution``.
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The item counts per status, the find and move counts, and ``items``: one
        entry per row (``row``, ``status``, ``studies_found``, ``studies_retrieved``).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    pacs = pacs or resolve_pacs(None, None, None)
    local = local or resolve_local(None, None, None)
    selection = selection or CohortSelection()
    retrieval = resolve_retrieval_window(retrieval or Retrieval())
    init_db_task(db_url)
    recorded = record_cohort_task(db_url, cohort, series)
    logger.info(
        "Cohort %s: %d items (%s), series: %s",
        recorded.name,
        recorded.items,
        "new" if recorded.created else "recorded before",
        recorded.series_filter.describe(),
    )
    echo_task(local, pacs)
    found = find_cohort_task(db_url, local, pacs, recorded)
    logger.info(
        "%d of %d items matched studies on %s (%.0f items/s); rows whose query failed: %s",
        found["items_matched"],
        found["items_queried"],
        pacs,
        found["items_per_second"],
        found["items_query_failed"] or "none",
    )
    moved = move_studies_flow(
        pacs=pacs,
        local=local,
        storage=resolve_storage(storage),
        pick=StudyPick(
            limit=selection.limit, max_attempts=selection.max_attempts, cohort=recorded.name
        ),
        series=recorded.series_filter,
        retrieval=replace(retrieval, fail_on_incomplete=False),
        db_url=db_url,
        show_progress=show_progress,
    )
    report = cohort_status_task(db_url, recorded.name)
    items = report.pop("items")
    summary: dict[str, Any] = {
        **report,
        "studies_new": found["studies_new"],
        "find_items_per_second": found["items_per_second"],
        **{
            key: moved[key]
            for key in (
                "studies_picked",
                "studies_complete",
                "studies_no_matching_series",
                "studies_partial",
                "studies_failed",
                "studies_skipped",
                "studies_not_started",
                "images_added",
            )
        },
        "seconds": round(time.perf_counter() - started, 3),
        "find": found,
        "move": moved,
        "items": items,
    }
    _publish(recorded.name, summary, items)
    logger.info(
        "Cohort %s: %d items retrieved, %d partial, %d pending, %d not found; "
        "%d images added in %.1f s",
        recorded.name,
        summary["items_retrieved"],
        summary["items_partial"],
        summary["items_pending"],
        summary["items_not_found"],
        summary["images_added"],
        summary["seconds"],
    )
    if retrieval.fail_on_incomplete:
        check_complete(summary, f"cohort {recorded.name}")
    return summary


def _publish(name: str, summary: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """The run's summary and the status of every item (by row) as artifacts."""
    create_markdown_artifact(
        summary_markdown(f"cohort {name}", summary),
        key="cohort-summary",
        description=f"cohort {name}",
    )
    create_table_artifact(
        [
            {
                "row": item["row"],
                "status": item["status"],
                "studies found": item["studies_found"],
                "studies retrieved": item["studies_retrieved"],
                "no matching series": item["studies_without_matching_series"],
                "query error": item["error"] or "",
            }
            for item in items
        ],
        key="cohort-items",
        description=f"cohort {name}: each item by row",
    )
