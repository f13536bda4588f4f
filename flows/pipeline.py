"""The ``pipeline`` flow: pacsflow's main job, from a PACS to a research database.

init-db -> C-ECHO -> find studies (C-FIND over the date range, recorded in
``studies_find``) -> pick the studies not retrieved yet -> retrieve each one
(C-MOVE into the storage SCP, ingest) -> mark it retrieved when complete.
The find and move steps are the ``find-studies`` and ``move-studies`` flows,
run as subflows, so each shows in the UI with its own summary; they receive
the site this flow resolved (:func:`flows.config.open_site`) and neither
initialises the database nor echoes the PACS again.
"""

from __future__ import annotations

import time
from dataclasses import replace

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.config import SiteParameter, open_site
from flows.dates import DateRange, resolve_range
from flows.find_studies import find_studies_flow
from flows.move_studies import move_studies_flow
from flows.options import Retrieval, Selection
from flows.results import PipelineSummary
from flows.run_names import pipeline_run_name
from flows.summaries import check_complete, summary_markdown
from pacsflow.retrieval.attempts import StudyPick
from pacsflow.retrieval.series_filter import SeriesFilter
from tasks.database import init_db_task
from tasks.pacs import echo_task

__all__ = ["pipeline"]


@flow(name="pipeline", flow_run_name=pipeline_run_name)
def pipeline(
    dates: DateRange | None = None,
    selection: Selection | None = None,
    series: SeriesFilter | None = None,
    retrieval: Retrieval | None = None,
    site: SiteParameter = None,
    show_progress: bool = False,
) -> PipelineSummary:
    """Find the studies of a date range on the PACS and retrieve them.

    Args:
        dates: the study dates to find: ``start_date`` and ``end_date``, or
            ``days_back`` (the N days before the run's scheduled date; 1:
            yesterday), so a nightly schedule needs no date parameters.
        selection: which studies to move: ``modalities``, ``limit`` (this run),
            ``max_attempts`` (studies tried this often are reported, not moved
            again), ``retry_earlier`` (also the unretrieved studies dated before
            the range, found by earlier runs; default true).
        series: retrieve only the series it selects (``modalities``,
            ``include_descriptions``, ``exclude_descriptions``, ``series_numbers``);
            default: whole studies.
        retrieval: ``concurrency`` (studies moved at once), ``result_cap`` (the
            number of C-FIND answers at which the PACS stops), ``institution``
            (stored with patients and images; default: the PACS AE title),
            ``until`` (HH:MM), ``fail_on_incomplete``, ``ingest_workers``.
        site: ``pacs`` (AE title, host, port, transport, DICOMweb URL), ``local``
            (pacsflow's AE title, port, bind address), ``storage`` (the folder of
            received files) and ``db_url`` (without password); what is not given
            comes from the worker's environment (``PACSFLOW_*``).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The find and move subflows' summaries, and the run's seconds.
    """
    started = time.perf_counter()
    site = open_site(site, retrieval)
    selection = selection or Selection()
    first_day, last_day = resolve_range(dates)
    init_db_task(site.db_url)
    echo_task(site.local, site.pacs)
    found = find_studies_flow(
        dates=DateRange(first_day, last_day), modalities=selection.modalities, site=site
    )
    pick = StudyPick(
        limit=selection.limit,
        modalities=selection.modalities,
        start_date=None if selection.retry_earlier else first_day,
        end_date=last_day,
        max_attempts=selection.max_attempts,
    )
    moved = move_studies_flow(
        pick=pick,
        series=series,
        site=replace(site, retrieval=replace(site.retrieval, fail_on_incomplete=False)),
        show_progress=show_progress,
    )
    summary = PipelineSummary(found, moved, round(time.perf_counter() - started, 3))
    what = f"pipeline {first_day}..{last_day} from {site.pacs}"
    create_markdown_artifact(
        summary_markdown(what, summary.as_dict()), key="pipeline-summary", description=what
    )
    get_run_logger().info(
        "Pipeline done: %d studies found (%d new), %d complete, %d partial, %d failed, "
        "%d skipped in %.1f s",
        found.studies_found,
        found.studies_new,
        moved.studies_complete,
        moved.studies_partial,
        moved.studies_failed,
        moved.studies_skipped,
        summary.seconds,
    )
    if site.retrieval.fail_on_incomplete:
        check_complete(moved, what)
    return summary
