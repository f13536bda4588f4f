"""Functions the worker-pool tests run inside the pool's workers (importable by name there)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from pacsflow.ingest.batch import BatchResult, ingest_batch
from pacsflow.ingest.worker import ingest_batch_at
from pacsflow.pool_worker import engine_at

LOGGER = logging.getLogger("pacsflow.tests.pool")


def ingest_then_die_once(url: str, paths: list[str], marker: str) -> BatchResult:
    """The first time: store half the batch, then be killed mid-batch; later: the whole batch."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        ingest_batch(engine_at(url), paths[: len(paths) // 2], institution="pool", flow_run_id=None)
        os.kill(os.getpid(), signal.SIGKILL)
    return ingest_batch_at(url, paths, "pool", None)


def warn(text: str) -> int:
    """Log ``text`` at WARNING from the worker; its process id."""
    LOGGER.warning("from the worker: %s", text)
    return os.getpid()


class UnpicklableError(Exception):
    """An error whose arguments do not survive pickling."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} and {b}")


def raise_unpicklable() -> None:
    """Raise an error that cannot cross the process boundary as it is."""
    raise UnpicklableError("one", "two")
