"""What runs inside pacsflow's worker processes: their start, their engines, their answers.

The flows hand CPU-bound work (parsing headers, pseudonymising files) to a
pool of worker processes started once per process (``tasks/worker_pool.py``).
Those workers run pure pacsflow only: they never import Prefect, the tasks or
the flows, so a new worker costs a fork, not Prefect's start. This module is
their side of it: the initializer, one engine per database URL, and
:func:`run_logged`, which runs one call and brings its log records back so that
the calling task can emit them in its own run (the worker has no Prefect
logging).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.process
import os
import pickle
import signal
import sys
import threading
import traceback
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from pacsflow.database.engine import make_engine
from pacsflow.dicom.reading import silence_pydicom_value_warnings
from pacsflow.errors import PermanentError, RetryableError

__all__ = [
    "WorkerContext",
    "WorkerProcess",
    "WorkerTracebackError",
    "engine_at",
    "run_logged",
    "start_worker",
    "started_workers",
    "worker_facts",
]

T = TypeVar("T")

_KEPT = 4
_engines: OrderedDict[str, Engine] = OrderedDict()
_PR_SET_PDEATHSIG = 1
_LOGGER_NAME = "pacsflow"
_spawning = threading.Lock()
_started: weakref.WeakSet[multiprocessing.process.BaseProcess] = weakref.WeakSet()


class WorkerProcess(multiprocessing.context.ForkServerProcess):
    """A fork-server process that does not re-import the parent's ``__main__``.

    multiprocessing runs the parent's main script again in each child; the
    ``pacsflow`` console script imports the CLI, hence Prefect. The child is
    given an empty ``__main__`` instead: it needs nothing from it.
    """

    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - the name multiprocessing calls
        with _spawning:
            main = sys.modules["__main__"]
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                popen = multiprocessing.popen_forkserver.Popen(process_obj)
            finally:
                sys.modules["__main__"] = main
        _started.add(process_obj)
        return popen


class WorkerContext(multiprocessing.context.ForkServerContext):
    """The fork-server context whose processes are :class:`WorkerProcess`."""

    Process = WorkerProcess


def started_workers() -> list[multiprocessing.process.BaseProcess]:
    """The worker processes this process started and still references."""
    return list(_started)


def _die_with_parent() -> None:
    """Ask Linux to end this worker when its parent (the fork server) ends.

    The fork server ends when every holder of its "alive" pipe has closed it.
    Workers inherit that pipe (to start processes of their own, which they do
    not): closing it here leaves the pool's owner as its only holder, so the
    server, and with it every worker, ends when the owner ends, even killed.
    """
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):  # no prctl: the pool's shutdown still ends us
            return


def start_worker() -> None:
    """The pool's initializer: quiet pydicom, leave Ctrl-C to the parent, die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    _die_with_parent()
    silence_pydicom_value_warnings()
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # records go back to the task, not to this stderr


def engine_at(url: str) -> Engine:
    """This worker's engine for ``url`` (the full URL, password included), opened once."""
    engine = _engines.pop(url, None) or make_engine(url)
    _engines[url] = engine
    while len(_engines) > _KEPT:
        _engines.popitem(last=False)[1].dispose()
    return engine


def worker_facts() -> dict[str, Any]:
    """This worker's process id and which application layers it has loaded (tests, bench)."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "prefect": "prefect" in sys.modules,
        "flows": "flows" in sys.modules,
        "tasks": "tasks" in sys.modules,
    }


class _Keep(logging.Handler):
    """Collects the records of one call, made picklable."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _picklable(error: Exception) -> Exception:
    """``error`` if it crosses the process boundary, else one of its kind with its message."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made
    except Exception:
        kind: type[Exception] = (
            RetryableError
            if isinstance(error, RetryableError)
            else PermanentError
            if isinstance(error, PermanentError)
            else RuntimeError
        )
        return kind(f"{type(error).__name__}: {error}")
    return error


class WorkerTracebackError(Exception):
    """The traceback of an error raised in a worker, as text (the cause of the error raised)."""

    def __str__(self) -> str:
        return f"\n\nin the worker process:\n{self.args[0] if self.args else ''}"


def run_logged(
    function: Callable[..., T], *args: Any
) -> tuple[T | None, Exception | None, str, list[logging.LogRecord]]:
    """Run ``function(*args)``: its result, or its error and traceback (text); its log records.

    The pacsflow log records it made come back made picklable.
    """
    keep = _Keep()
    logger = logging.getLogger(_LOGGER_NAME)
    logger.addHandler(keep)
    try:
        return function(*args), None, "", keep.records
    except Exception as error:  # sent back whole: the task decides about retries
        return None, _picklable(error), traceback.format_exc(), keep.records
    finally:
        logger.removeHandler(keep)
