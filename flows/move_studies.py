"""The ``move-studies`` flow: retrieve the found studies not retrieved yet.

Run alone, the flow initialises the database and C-ECHOes the PACS (a PACS
that is down fails the run before any study is touched); as a subflow its
parent did both. It picks the studies to move, and, for the ``c-move``
transport, makes sure pacsflow's receiver service (the storage SCP, in
processes of its own) serves the storage folder for as long as it runs,
sharing it with any overlapping run (``c-get`` and ``dicomweb`` need none).
Each study is a ``transfer-study`` task (C-MOVE,
C-GET or WADO-RS; at most ``concurrency`` at once in a thread pool sized per
run, default 1 to spare the PACS) followed by an ``ingest-study`` task
(ingest, completeness check, record) in a pool of its own: study N is
ingested while study N+1 arrives. The ingest pool is threads of this process
by default; with ``ingest_workers`` the tasks hand their study to that many
worker processes of the pool of :mod:`flows.workers`. Transient
network errors are retried by Prefect; a permanent one fails that study only.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import SiteParameter, open_site
from flows.dates import is_subflow
from flows.options import Retrieval
from flows.progress import FlowProgress
from flows.results import MoveSummary
from flows.run_names import move_run_name
from flows.summaries import check_complete, move_summary, summary_markdown
from flows.workers import pooled_runner
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for
from pacsflow.retrieval.attempts import StudyPick
from pacsflow.retrieval.claims import new_claim_holder
from pacsflow.retrieval.one_study import (
    RetrievalRequest,
    StudyOutcome,
    TransferGaveUpError,
    Transferred,
    skipped_outcome,
)
from pacsflow.retrieval.series_filter import SeriesFilter
from pacsflow.site import Site
from tasks.database import init_db_task, pick_studies_task
from tasks.pacs import echo_task, finish_study_task, transfer_study_task

__all__ = ["move_studies_flow"]


def _transferred_of(future: PrefectFuture[Transferred], study_uid: str, holder: str) -> Transferred:
    """The transfer's result; a task that failed (retries exhausted) still goes to ingest,
    which keeps whatever arrived, records the try and releases the claim."""
    value = future.result(raise_on_failure=False)
    if isinstance(value, Transferred):
        return value
    why = str(value) if isinstance(value, BaseException) else future.state.message
    return Transferred(study_uid, holder, error=TransferGaveUpError(str(why)))


def _outcome_of(future: PrefectFuture[StudyOutcome], study_uid: str) -> StudyOutcome:
    """The task's outcome; a task that failed (retries exhausted) counts as a failed study."""
    value = future.result(raise_on_failure=False)  # waits for the final state
    if isinstance(value, StudyOutcome):
        return value
    return StudyOutcome(
        study_uid=study_uid,
        outcome="failed",
        expected=None,
        received=0,
        images_added=0,
        files_failed=0,
        moved=0,
        error=str(value) if isinstance(value, BaseException) else future.state.message,
    )


@flow(name="move-studies", flow_run_name=move_run_name)
def move_studies_flow(
    pick: StudyPick | None = None,
    series: SeriesFilter | None = None,
    retrieval: Retrieval | None = None,
    site: SiteParameter = None,
    show_progress: bool = False,
) -> MoveSummary:
    """Retrieve the found, unretrieved studies into the database, oldest first.

    Args:
        pick: which found studies: ``limit``, ``modalities``, ``start_date`` /
            ``end_date`` (study dates), ``max_attempts`` (studies tried this often
            are reported, not moved again), ``cohort`` (only a cohort's studies).
            Default: all, oldest first.
        series: retrieve only the series it selects: ``modalities``,
            ``include_descriptions`` / ``exclude_descriptions`` (regular
            expressions on SeriesDescription, case-insensitive), ``series_numbers``.
            Default: whole studies.
        retrieval: ``concurrency`` (studies moved at once), ``institution``
            (stored with patients and images; default: the PACS AE title),
            ``until`` (HH:MM: start no study after it; the rest are reported as
            not started), ``fail_on_incomplete`` (end Failed when a study is
            partial or failed), ``ingest_workers``.
        site: ``pacs`` (AE title, host, port, transport, DICOMweb URL), ``local``
            (pacsflow's AE title, port, bind address), ``storage`` (the folder of
            received files) and ``db_url`` (without password); what is not given
            comes from the worker's environment (``PACSFLOW_*``).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        Counts (picked, complete, partial, failed, skipped, given up, images added,
        instances moved, seconds) and the incomplete studies with their reasons.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    opened_by_parent = isinstance(site, Site) and is_subflow()
    site = open_site(site, retrieval)
    pacs, local, folder, db_url = site.pacs, site.local, site.storage, site.db_url
    pick = pick or StudyPick()
    concurrency = site.retrieval.concurrency
    if not opened_by_parent:  # else the parent initialised the database and echoed the PACS
        init_db_task(db_url)
        echo_task(local, pacs)
    picked = pick_studies_task(db_url, pick)
    logger.info(
        "%d studies to move from %s (%d given up after %d attempts)",
        len(picked.study_uids),
        pacs,
        len(picked.given_up),
        pick.max_attempts,
    )
    outcomes: list[StudyOutcome] = []
    progress = FlowProgress(
        len(picked.study_uids),
        key="move-studies-progress",
        description=f"Retrieving {len(picked.study_uids)} studies from {pacs}",
        show_bar=show_progress,
    )
    scp = transport_for(pacs).run_scope(PacsLink(local, pacs), Path(folder))
    # The pools are sized per run, so they are used directly rather than as the
    # flow's (fixed) task runner; their task runs belong to this flow run.
    transfers: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=concurrency)
    processes = site.retrieval.ingest_workers
    ingests = pooled_runner(processes or concurrency, processes)
    # One claim holder per run: another run skips the studies this one moves,
    # and a Prefect retry of a task keeps its claim.
    request = RetrievalRequest(
        local=local,
        pacs=pacs,
        storage=Path(folder),
        institution=site.retrieval.institution or pacs.ae_title,
        claim_holder=new_claim_holder(),
        series_filter=series or SeriesFilter(),
        not_after=site.retrieval.window_end,
    )
    holder = request.claim_holder or ""
    with scp, transfers, ingests as ingest_runner, progress:
        done: queue.SimpleQueue[PrefectFuture[Any]] = queue.SimpleQueue()
        transferring: dict[PrefectFuture[Any], str] = {}
        for uid in picked.study_uids:
            submitted = transfers.submit(
                transfer_study_task, {"db_url": db_url, "request": request, "study_uid": uid}
            )
            transferring[submitted] = uid
            submitted.add_done_callback(done.put)
        ingesting: dict[PrefectFuture[Any], str] = {}
        while len(outcomes) < len(picked.study_uids):
            future = done.get()
            if future in transferring:
                uid = transferring.pop(future)
                moved = _transferred_of(future, uid, holder)
                if moved.skipped is None:
                    ingest = ingest_runner.submit(
                        finish_study_task,
                        {
                            "db_url": db_url,
                            "request": request,
                            "transferred": moved,
                            "processes": processes,
                        },
                    )
                    ingesting[ingest] = uid
                    ingest.add_done_callback(done.put)
                    continue
                outcomes.append(skipped_outcome(moved))
            else:
                outcomes.append(_outcome_of(future, ingesting.pop(future)))
            progress.advance(1)
    summary = move_summary(
        outcomes, picked.given_up, pick.max_attempts, time.perf_counter() - started
    )
    create_markdown_artifact(
        summary_markdown(f"move-studies from {pacs}", summary.as_dict()),
        key="move-studies-summary",
        description=f"move-studies from {pacs}",
    )
    logger.info(
        "Done: %d studies complete, %d with no matching series, %d partial, %d failed, "
        "%d skipped (claimed by another run or retrieved meanwhile), %d not started (the "
        "retrieval window ended); %d images added in %.1f s",
        summary.studies_complete,
        summary.studies_no_matching_series,
        summary.studies_partial,
        summary.studies_failed,
        summary.studies_skipped,
        summary.studies_not_started,
        summary.images_added,
        summary.seconds,
    )
    if site.retrieval.fail_on_incomplete:
        check_complete(summary, f"move-studies from {pacs}")
    return summary
