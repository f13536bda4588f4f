"""Tasks that index DICOM files on disk."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.ingest.batch import BatchResult, ingest_batch
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES

__all__ = ["ingest_batch_task"]


@task(name="ingest-batch", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def ingest_batch_task(
    db_url: str | None, paths: list[str], institution: str, flow_run_id: str | None
) -> BatchResult:
    """Store one batch of files (one transaction); bad files go to ingest_errors.

    Safe to retry: files stored by an earlier attempt are skipped.
    """
    return ingest_batch(engine_for(db_url), paths, institution=institution, flow_run_id=flow_run_id)
