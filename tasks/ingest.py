"""Tasks that index DICOM files on disk."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.ingest.batch import BatchResult, ingest_batch
from pacsflow.ingest.worker import ingest_batch_at
from tasks.credentials import connect_url
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES
from tasks.worker_pool import in_pool

__all__ = ["ingest_batch_task"]


@task(name="ingest-batch", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def ingest_batch_task(
    db_url: str,
    paths: list[str],
    institution: str,
    flow_run_id: str | None,
    processes: int = 0,
) -> BatchResult:
    """Store one batch of files (one transaction); bad files go to ingest_errors.

    With ``processes`` (> 0) the batch is parsed and written by a worker of the
    process pool of that size (:mod:`tasks.worker_pool`), else here. Safe to
    retry: files stored by an earlier attempt are skipped.
    """
    if processes:
        url = connect_url(db_url)
        return in_pool(processes, ingest_batch_at, url, paths, institution, flow_run_id)
    return ingest_batch(engine_for(db_url), paths, institution=institution, flow_run_id=flow_run_id)
