"""The one ingest loop: a folder's batches run one after another or in a pool, results added up.

The folder flow submits batches to worker processes, the retrieval of a
study ingests the study's folder here, and the seed's ``parse_dir2sql``
indexes a whole folder in the calling process: all three go through
:func:`ingest_batches`, which only differs in how a batch is started.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import Engine

from pacsflow.dicom.records import ImageRecord
from pacsflow.ingest.batch import DEFAULT_BATCH_SIZE, BatchResult, ingest_batch
from pacsflow.ingest.folders import batched, iter_dicom_candidates

__all__ = ["BatchStarter", "ingest_batches", "ingest_folder"]

BatchStarter = Callable[[list[str]], Callable[[], BatchResult]]
"""Starts one batch of paths and returns how to wait for its result (run here, or submitted)."""


def ingest_batches(
    batches: Iterable[list[str]],
    start: BatchStarter,
    *,
    in_flight: int = 1,
    on_result: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Start each batch, keeping at most ``in_flight`` unfinished; add up their results.

    Bounding the batches in flight bounds memory (each holds its headers until
    written), whatever the number of batches.

    Args:
        batches: the paths of each batch, in order.
        start: starts a batch; what it returns waits for the batch's result.
        in_flight: batches started and not yet collected, at most.
        on_result: called with each batch's result as it is collected (progress).
    """
    total = BatchResult()
    pending: deque[Callable[[], BatchResult]] = deque()

    def collect() -> None:
        nonlocal total
        result = pending.popleft()()
        total += result
        if on_result is not None:
            on_result(result)

    for batch in batches:
        pending.append(start(batch))
        if len(pending) >= in_flight:
            collect()
    while pending:
        collect()
    return total


def ingest_folder(
    engine: Engine,
    folder: str | os.PathLike[str],
    *,
    institution: str | None,
    flow_run_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_result: Callable[[BatchResult], None] | None = None,
    arrived: Mapping[str, ImageRecord] | None = None,
) -> BatchResult:
    """Ingest every file under ``folder`` in this process, one batch (transaction) at a time.

    ``arrived`` holds rows made as files arrived (:mod:`pacsflow.ingest.arrivals`):
    those files are not read again while their size and mtime are unchanged.

    Raises:
        NotADirectoryError: ``folder`` is not a folder.
    """

    def here(paths: list[str]) -> Callable[[], BatchResult]:
        result = ingest_batch(
            engine, paths, institution=institution, flow_run_id=flow_run_id, arrived=arrived
        )
        return lambda: result

    return ingest_batches(
        batched(iter_dicom_candidates(folder), batch_size), here, on_result=on_result
    )
