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

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.config import SiteParameter, open_site
from flows.move_studies import move_studies_flow
from flows.options import CohortSelection, Retrieval
from flows.results import CohortSummary
from flows.run_names import cohort_run_name
from flows.summaries import check_complete, summary_markdown
from pacsflow.cohorts.cohort_file import CohortSource
from pacsflow.retrieval.attempts import StudyPick
from pacsflow.retrieval.series_filter import SeriesFilter
from tasks.cohorts import cohort_status_task, find_cohort_task, record_cohort_task
from tasks.database import init_db_task
from tasks.pacs import echo_task

__all__ = ["cohort_flow"]


@flow(name="cohort", flow_run_name=cohort_run_name)
def cohort_flow(
    cohort: CohortSource,
    series: SeriesFilter | None = None,
    selection: CohortSelection | None = None,
    retrieval: Retrieval | None = None,
    site: SiteParameter = None,
    show_progress: bool = False,
) -> CohortSummary:
    """Find and retrieve the studies a cohort file names, and report each item by row.

    Args:
        cohort: ``file`` (a CSV with AccessionNumber, PatientID and/or
            StudyInstanceUID columns, optionally StudyDate and ModalitiesInStudy)
            and/or ``name`` (default: the file's name; alone, a recorded cohort
            is run again). A re-run moves only what is still missing.
        series: retrieve only these series (``modalities``, ``include_descriptions``,
            ``exclude_descriptions``, ``series_numbers``); stored with the cohort on
            its first run and applied by every re-run. Default: whole studies.
        selection: ``limit`` (studies moved by this run) and ``max_attempts``.
        retrieval: ``concurrency`` (studies moved at once), ``institution``,
            ``until`` (HH:MM), ``fail_on_incomplete``, ``ingest_workers``.
        site: ``pacs`` (AE title, host, port, transport, DICOMweb URL), ``local``
            (pacsflow's AE title, port, bind address), ``storage`` (the folder of
            received files) and ``db_url`` (without password); what is not given
            comes from the worker's environment (``PACSFLOW_*``).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The cohort's report (each item by row: ``row``, ``status``,
        ``studies_found``, ``studies_retrieved``), its items' find, its move.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    site = open_site(site, retrieval)
    selection = selection or CohortSelection()
    init_db_task(site.db_url)
    recorded = record_cohort_task(site.db_url, cohort, series)
    logger.info(
        "Cohort %s: %d items (%s), series: %s",
        recorded.name,
        recorded.items,
        "new" if recorded.created else "recorded before",
        recorded.series_filter.describe(),
    )
    echo_task(site.local, site.pacs)
    found = find_cohort_task(site.db_url, site.local, site.pacs, recorded)
    logger.info(
        "%d of %d items matched studies on %s (%.0f items/s); rows whose query failed: %s",
        found.items_matched,
        found.items_queried,
        site.pacs,
        found.items_per_second,
        found.items_query_failed or "none",
    )
    moved = move_studies_flow(
        pick=StudyPick(
            limit=selection.limit, max_attempts=selection.max_attempts, cohort=recorded.name
        ),
        series=recorded.series_filter,
        site=replace(site, retrieval=replace(site.retrieval, fail_on_incomplete=False)),
        show_progress=show_progress,
    )
    report = cohort_status_task(site.db_url, recorded.name)
    summary = CohortSummary(report, found, moved, round(time.perf_counter() - started, 3))
    _publish(recorded.name, summary)
    counts = report.counts()
    logger.info(
        "Cohort %s: %d items retrieved, %d partial, %d pending, %d not found; "
        "%d images added in %.1f s",
        recorded.name,
        counts["items_retrieved"],
        counts["items_partial"],
        counts["items_pending"],
        counts["items_not_found"],
        moved.images_added,
        summary.seconds,
    )
    if site.retrieval.fail_on_incomplete:
        check_complete(moved, f"cohort {recorded.name}")
    return summary


def _publish(name: str, summary: CohortSummary) -> None:
    """The run's summary and the status of every item (by row) as artifacts."""
    create_markdown_artifact(
        summary_markdown(f"cohort {name}", summary.as_dict()),
        key="cohort-summary",
        description=f"cohort {name}",
    )
    create_table_artifact(
        [
            {
                "row": item.row,
                "status": item.status,
                "studies found": item.studies_found,
                "studies retrieved": item.studies_retrieved,
                "no matching series": item.studies_without_matching_series,
                "query error": item.error or "",
            }
            for item in summary.report.items
        ],
        key="cohort-items",
        description=f"cohort {name}: each item by row",
    )
