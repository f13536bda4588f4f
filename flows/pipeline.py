"""The ``pipeline`` flow: pacsflow's main job, from a PACS to a research database.

init-db -> find studies (C-FIND over the date range, recorded in
``studies_find``) -> pick the studies not retrieved yet -> retrieve each one
(C-MOVE into the storage SCP, ingest) -> mark it retrieved when complete.
The find and move steps are the ``find-studies`` and ``move-studies`` flows,
run as subflows, so each shows in the UI with its own summary.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.dates import resolve_range
from flows.find_studies import find_studies_flow
from flows.move_studies import move_studies_flow, summary_markdown
from pacsflow.retrieval.attempts import DEFAULT_MAX_ATTEMPTS
from tasks.db import init_db_task
from tasks.settings import resolve_local, resolve_pacs, resolve_storage

__all__ = ["pipeline"]


@flow(name="pipeline")
def pipeline(
    pacs_ae_title: str | None = None,
    pacs_host: str | None = None,
    pacs_port: int | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    days_back: int | None = None,
    modalities: list[str] | None = None,
    local_ae_title: str | None = None,
    local_port: int | None = None,
    local_bind_address: str | None = None,
    storage: str | None = None,
    limit: int | None = None,
    retry_earlier: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    concurrency: int = 1,
    result_cap: int = 1000,
    institution: str | None = None,
    db_url: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Find the studies of a date range on the PACS and retrieve them.

    Args:
        pacs_ae_title: the PACS's AE title, the called AE (default $PACSFLOW_PACS_AET).
        pacs_host: the PACS's host name or address (default $PACSFLOW_PACS_HOST).
        pacs_port: the PACS's DICOM port (default $PACSFLOW_PACS_PORT).
        start_date: the first study date to find (or give ``days_back``).
        end_date: the last study date to find (default: ``start_date``, or
            yesterday with ``days_back``).
        days_back: find the studies of the N days before the run's scheduled date
            (1: yesterday), so a nightly schedule needs no date parameters.
        modalities: only studies holding one of these modalities.
        local_ae_title: pacsflow's AE title: the calling AE and the C-MOVE destination
            (default $PACSFLOW_LOCAL_AET, else PACSFLOW).
        local_port: the storage SCP's port (default $PACSFLOW_LOCAL_PORT, else 11112).
        local_bind_address: the address the storage SCP listens on; the PACS must
            reach it (default $PACSFLOW_LOCAL_BIND, else 127.0.0.1).
        storage: the folder receiving the files (default $PACSFLOW_STORAGE, else
            ./pacsflow-storage).
        limit: move at most this many studies in this run.
        retry_earlier: also move unretrieved studies dated before ``start_date``
            (found by earlier runs, incomplete then); False keeps to the date range.
        max_attempts: studies tried this often are reported, not moved again.
        concurrency: studies moved at once.
        result_cap: the number of C-FIND answers at which the PACS stops.
        institution: stored with patients and images (default: the PACS AE title).
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The find counts under ``find``, the move counts under ``move``, and the
        headline figures (studies found, picked, complete, partial, failed,
        images added, seconds) at the top level.
    """
    started = time.perf_counter()
    pacs = resolve_pacs(pacs_ae_title, pacs_host, pacs_port)
    local = resolve_local(local_ae_title, local_port, local_bind_address)
    folder = resolve_storage(storage)
    first_day, last_day = resolve_range(start_date, end_date, days_back)
    init_db_task(db_url)
    found = find_studies_flow(
        pacs_ae_title=pacs.ae_title,
        pacs_host=pacs.host,
        pacs_port=pacs.port,
        start_date=first_day,
        end_date=last_day,
        modalities=modalities,
        local_ae_title=local.ae_title,
        result_cap=result_cap,
        db_url=db_url,
    )
    moved = move_studies_flow(
        pacs_ae_title=pacs.ae_title,
        pacs_host=pacs.host,
        pacs_port=pacs.port,
        local_ae_title=local.ae_title,
        local_port=local.port,
        local_bind_address=local.bind_address,
        storage=folder,
        limit=limit,
        modalities=modalities,
        start_date=None if retry_earlier else first_day,
        end_date=last_day,
        max_attempts=max_attempts,
        concurrency=concurrency,
        institution=institution,
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
    return summary
