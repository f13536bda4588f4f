"""Task runners for CPU-bound work: Prefect tasks on threads, their work in a process pool.

The flows that parse headers or pseudonymise files (``ingest-dir``, the
pseudonymised ``export``, ``move-studies`` with ``ingest_workers``) run their
tasks on a :class:`~prefect.task_runners.ThreadPoolTaskRunner` in the flow
process, sized like the pool: Prefect still gives each task its retries,
states, place in the UI and the run's concurrency. Each task hands one pure
pacsflow function to the process pool of :mod:`tasks.worker_pool` and waits.
That pool is started once per process by a fork server that imported the
worker modules; its workers never import Prefect, so a run no longer pays
Prefect's start (2-3 s) in every worker. One worker means no pool at all: the
tasks do the work in the flow process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from tasks.worker_pool import pool_for_run

__all__ = ["pool_processes", "pooled_runner"]


def pool_processes(workers: int) -> int:
    """The ``processes`` to give the tasks: ``workers`` if more than one, else 0 (no pool)."""
    return workers if workers > 1 else 0


@contextmanager
def pooled_runner(workers: int, processes: int) -> Iterator[ThreadPoolTaskRunner[Any]]:
    """A thread runner of ``workers`` tasks at once, with the pool of ``processes`` ready.

    With ``processes`` of 0 no pool is started. If the run is interrupted
    (Ctrl-C, cancellation) the pool's workers are ended with it.
    """
    with ExitStack() as stack:
        if processes:
            stack.enter_context(pool_for_run(processes))
        yield stack.enter_context(ThreadPoolTaskRunner(max_workers=max(1, workers)))
