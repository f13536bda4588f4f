"""The ingest's entry in a worker process: one batch into the database at a URL."""

from __future__ import annotations

from pacsflow.ingest.batch import BatchResult, ingest_batch
from pacsflow.pool_worker import engine_at

__all__ = ["ingest_batch_at"]


def ingest_batch_at(
    url: str, paths: list[str], institution: str, flow_run_id: str | None
) -> BatchResult:
    """Store one batch of files (one transaction) with this worker's engine for ``url``.

    Args:
        url: the full database URL, password included (resolved by the calling task).
    """
    return ingest_batch(engine_at(url), paths, institution=institution, flow_run_id=flow_run_id)
