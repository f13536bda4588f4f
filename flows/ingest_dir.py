"""The ``ingest-dir`` flow: index a folder of DICOM files into the pacsflow database.

Files are split into batches; each batch is one ``ingest-batch`` task. The
tasks run on threads of the flow process, ``workers`` at once, and each hands
its batch to a worker of the process pool kept by :mod:`tasks.worker_pool`, so
parsing uses every core (see :mod:`flows.workers`). The pool is started once
per process and its workers do not import Prefect, so a run pays no per-worker
start. With one worker, or a folder of one batch (500 files by default), the
batches are parsed in the flow process and no pool is started. At most two
batches per worker are in flight, which bounds memory however large the
folder is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import open_database
from flows.progress import FlowProgress
from flows.results import IngestSummary
from flows.run_names import ingest_run_name
from flows.summaries import ingest_summary_table
from flows.workers import pool_processes, pooled_runner
from pacsflow.database.engine import mask_url
from pacsflow.ingest.batch import (
    DEFAULT_BATCH_SIZE,
    BatchResult,
    default_institution,
    require_schema,
)
from pacsflow.ingest.folder_ingest import ingest_batches
from pacsflow.ingest.folders import (
    count_candidates,
    iter_dicom_candidates,
    plan_batches,
    require_folder,
)
from tasks.credentials import connect_url
from tasks.database import init_db_task
from tasks.ingest import ingest_batch_task

__all__ = ["ingest_dir", "parse_dir2sql"]

_IN_FLIGHT_PER_WORKER = 2


def _ingest_batches(
    runner: ThreadPoolTaskRunner[Any],
    src: str,
    parameters: dict[str, Any],
    batch_size: int,
    workers: int,
    total: int,
    progress: FlowProgress,
) -> BatchResult:
    """Submit the batches' tasks, at most two per worker in flight."""

    def submit(paths: list[str]) -> Callable[[], BatchResult]:
        return runner.submit(ingest_batch_task, {**parameters, "paths": paths}).result

    batches = plan_batches(
        iter_dicom_candidates(src), total=total, batch_size=batch_size, workers=workers
    )
    return ingest_batches(
        batches,
        submit,
        in_flight=workers * _IN_FLIGHT_PER_WORKER,
        on_result=lambda result: progress.advance(result.files_seen),
    )


@flow(name="ingest-dir", flow_run_name=ingest_run_name)
def ingest_dir(
    src: str,
    db_url: str | None = None,
    institution: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    create_tables: bool = True,
    show_progress: bool = False,
) -> IngestSummary:
    """Index every DICOM file under ``src`` into the pacsflow database.

    Args:
        src: the folder to walk, recursively.
        db_url: the database URL without password (the password comes from
            PACSFLOW_DB_PASSWORD); default PACSFLOW_DB_URL, else the SQLite file.
        institution: stored with patients and images; default ``unknown_YYYYMMDD``.
        batch_size: files per task and per transaction.
        workers: worker processes; 0 means one per CPU core. One, or a folder
            of one batch, parses in the flow process (no pool).
        create_tables: create the database and migrate it to the newest schema first.
        show_progress: draw a progress bar when standard error is a terminal.

    Returns:
        The run's counts (files seen, images added, failed by reason, ...),
        ``seconds`` (wall time), ``batch_seconds`` (time inside the batches,
        summed over workers) and ``files_per_second``. Failed files are in
        ``ingest_errors``.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    require_folder(src)  # a missing folder fails the run here, clearly
    if batch_size < 1 or workers < 0:
        raise ValueError(f"batch_size must be >= 1 and workers >= 0 (got {batch_size}, {workers})")
    n_workers = workers or os.cpu_count() or 1
    db_url = open_database(db_url)
    if create_tables:
        init_db_task(db_url)
    else:
        require_schema(connect_url(db_url))
    total = count_candidates(src)
    logger.info(
        "Ingesting %d files into %s with %d worker processes",
        total,
        mask_url(db_url),
        n_workers,
    )
    progress = FlowProgress(
        total,
        key="ingest-dir-progress",
        description=f"Ingesting {total} files",
        show_bar=show_progress,
    )
    # The runner is sized per run, so it is used directly rather than as the
    # flow's (fixed) task runner; its task runs belong to this flow run.
    # A folder of one batch (plan_batches cuts the last files into quarter
    # batches) is parsed here: starting the pool would cost more than it saves.
    processes = pool_processes(n_workers) if total > batch_size // 4 else 0
    with pooled_runner(n_workers, processes) as runner, progress:
        parameters = {
            "db_url": db_url,
            "institution": institution or default_institution(),
            "flow_run_id": str(flow_run.id) if flow_run.id else None,
            "processes": processes,
        }
        result = _ingest_batches(runner, src, parameters, batch_size, n_workers, total, progress)
    wall_s = time.perf_counter() - started
    create_table_artifact(
        ingest_summary_table(result, wall_s),
        key="ingest-dir-summary",
        description=f"ingest-dir summary ({total} files)",
    )
    logger.info(
        "Done: %d files, %d images added, %d unchanged, %d failed, %d skipped, "
        "%d parent conflicts in %.1f s",
        result.files_seen,
        result.images_added,
        result.unchanged,
        result.failed,
        result.skipped,
        result.conflicts,
        wall_s,
    )
    return IngestSummary(
        counts=result,
        batch_seconds=round(result.seconds, 3),
        seconds=round(wall_s, 3),
        files_per_second=round(result.files_seen / wall_s, 1) if wall_s else 0.0,
    )


def parse_dir2sql(
    src: str,
    conn_uri: str,
    institution_name: str | None = None,
    nb_threads: int = 1,
    create_tables: bool = False,
) -> dict[str, Any]:
    """The seed's ``parse_dir2sql``, run as the ``ingest-dir`` flow with ``nb_threads`` workers."""
    return ingest_dir(
        src,
        db_url=conn_uri,
        institution=institution_name,
        workers=max(nb_threads, 1),
        create_tables=create_tables,
    ).as_dict()
