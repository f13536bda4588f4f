"""One pool of worker processes per process, started once, for the tasks' CPU-bound work.

Prefect's ``ProcessPoolTaskRunner`` spawns its workers for every run, and each
imports Prefect and starts its task engine and client: 2-3 s per worker per
run. Here the tasks stay in the flow process (on a thread runner, so Prefect
still gives them retries, states and concurrency), and each hands one pure
pacsflow function to this pool and waits. The pool's workers are forked by a
fork server that imported the worker modules once (``set_forkserver_preload``),
so a worker costs a fork; they never import Prefect, the tasks or the flows.

It lives in ``tasks/`` because the tasks submit to it (imports go flows ->
tasks -> pacsflow) and the flows only size it; its workers run ``pacsflow``'s
``*/worker.py`` entries (:mod:`pacsflow.pool_worker`).

The pool is kept for the life of the process and reused by later runs
(deployments served by one process, the test suite). A run needing more
workers replaces it by a larger one (the old one finishes what it holds); a
worker that dies (killed, out of memory) breaks the pool: the call fails with
:class:`WorkerLostError`, a retryable error, and the retry runs on a new pool.
No worker outlives the process: a clean exit shuts the pool down, an
interrupted run (Ctrl-C, cancellation) terminates it, and a killed process
takes its fork server and so its workers with it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from pacsflow.errors import RetryableError
from pacsflow.pool_worker import (
    WorkerContext,
    WorkerTracebackError,
    run_logged,
    start_worker,
    started_workers,
)

__all__ = ["WORKER_MODULES", "WorkerLostError", "in_pool", "pool_for_run", "terminate_pool"]

T = TypeVar("T")

WORKER_MODULES = [
    "pacsflow.pool_worker",
    "pacsflow.ingest.worker",
    "pacsflow.export.worker",
    "pacsflow.retrieval.worker",
]
"""Imported once by the fork server, so that every worker starts with them loaded."""

_WAKE_S = 0.5
"""How often a task waiting on a worker wakes, to see a Ctrl-C another thread received."""

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


class WorkerLostError(RetryableError):
    """A worker process ended while running a call (killed, out of memory)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"A worker process ended while running {what} (killed, or out of memory); "
            "the pool is started again and the task retried."
        )


_context = WorkerContext()
_context.set_forkserver_preload(WORKER_MODULES)


def _current(workers: int) -> ProcessPoolExecutor:
    """The pool, started (or replaced by a larger one) so that it has ``workers`` processes."""
    global _pool, _size
    with _lock:
        if _pool is None or _size < workers:
            old, _pool, _size = _pool, None, 0
            if old is not None:
                old.shutdown(wait=False)  # what it holds still runs, then its workers exit
            _pool = ProcessPoolExecutor(workers, mp_context=_context, initializer=start_worker)
            _size = workers
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    """Forget ``pool`` (broken): the next call starts a new one."""
    global _pool, _size
    with _lock:
        if _pool is pool:
            _pool, _size = None, 0
    pool.shutdown(wait=False, cancel_futures=True)


def _result(future: Future[T]) -> T:
    """``future.result()``, the waiting thread waking every :data:`_WAKE_S` seconds.

    Linux may hand a Ctrl-C (SIGINT) to any thread of the process (under load it
    does); Python raises it in the main thread only once that thread wakes. A
    plain ``result()`` blocks until the call ends (a batch of minutes): the
    interrupt would wait as long, and the process would not exit.
    """
    while not future.done():
        wait((future,), timeout=_WAKE_S)
    return future.result()


def in_pool(workers: int, function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a worker of the pool of (at least) ``workers`` processes.

    ``function`` must be a pure pacsflow function (importable by name, no
    Prefect); its pacsflow log records are emitted here, in the calling task.

    Raises:
        WorkerLostError: the worker died meanwhile (retryable: a retry gets a new pool).
        Exception: whatever ``function`` raised.
    """
    pool = _current(workers)
    try:
        result, error, trace, records = _result(pool.submit(run_logged, function, *args))
    except BrokenProcessPool:
        _discard(pool)
        raise WorkerLostError(getattr(function, "__name__", repr(function))) from None
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
    if error is not None:
        raise error from WorkerTracebackError(trace)
    return result  # type: ignore[return-value]


def terminate_pool() -> None:
    """End every worker now (their open transactions roll back) and forget the pool."""
    global _pool, _size
    with _lock:
        pool, _pool, _size = _pool, None, 0
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
    for process in started_workers():
        if process.is_alive():
            process.terminate()
    for process in started_workers():
        process.join(5)


@contextmanager
def pool_for_run(workers: int) -> Iterator[None]:
    """Make the pool ready for a run of ``workers`` processes; end it if the run is interrupted.

    A run that ends, even failed, leaves the pool to the next run. Ctrl-C or a
    cancellation (exceptions that are not ``Exception``) terminates it, so that
    no worker goes on with the run's batches.
    """
    _current(workers)
    try:
        yield
    except Exception:
        raise
    except BaseException:
        terminate_pool()
        raise


def _shutdown_at_exit() -> None:
    with _lock:
        pool = _pool
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(_shutdown_at_exit)
