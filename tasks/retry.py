"""Which task failures Prefect should retry: transient ones only."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import OperationalError

from pacsflow.errors import RetryableError

LOGGER = logging.getLogger(__name__)

__all__ = ["RETRY_DELAYS_ENV", "RETRY_DELAYS_S", "TRANSIENT_RETRIES", "is_transient"]

RETRY_DELAYS_ENV = "PACSFLOW_RETRY_DELAYS"
"""Environment variable overriding the retry waits, e.g. ``"1,5"`` (read at import)."""


def _delays(text: str | None) -> list[float]:
    """The waits from ``PACSFLOW_RETRY_DELAYS`` (seconds, comma-separated), else 2, 10, 30."""
    if not text:
        return [2.0, 10.0, 30.0]
    try:
        delays = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(
            f"{RETRY_DELAYS_ENV}={text!r}: give seconds separated by commas, e.g. 2,10,30"
        ) from None
    if any(d < 0 for d in delays):
        raise ValueError(f"{RETRY_DELAYS_ENV}={text!r}: waits cannot be negative")
    return delays


RETRY_DELAYS_S: list[float] = _delays(os.environ.get(RETRY_DELAYS_ENV))
"""Waits before each retry of a transient failure; their number is the number of retries."""

_TRANSIENT = (RetryableError, OperationalError, TimeoutError, ConnectionError)


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry timeouts, lost connections, busy databases.

    Bad data and refused requests (:class:`~pacsflow.errors.PermanentError`)
    fail at once: a retry would meet the same answer. Each retry is announced
    at WARNING (``retrying in 10 s (2 of 3): <reason>``), which the console
    shows as it happens. Prefect asks only while retries are left.
    """
    try:
        exception = state.result(raise_on_failure=False)
    except Exception:  # the result itself could not be read: do not guess
        return False
    if not isinstance(exception, _TRANSIENT):
        return False
    LOGGER.warning("%s", retry_line(task, task_run, exception))
    return True


def retry_line(task: Any, task_run: Any, exception: BaseException) -> str:
    """``retrying in 10 s (2 of 3): <the error's first line>`` for the retry about to start.

    Args:
        task: the Prefect task (its ``retries`` and ``retry_delay_seconds``).
        task_run: the failed run; its ``run_count`` is the attempts made so far.
    """
    done = max(1, int(getattr(task_run, "run_count", 1) or 1))
    total = int(getattr(task, "retries", 0) or 0)
    delays = getattr(task, "retry_delay_seconds", None) or 0
    if isinstance(delays, Sequence):
        delay = float(delays[min(done, len(delays)) - 1]) if delays else 0.0
    else:
        delay = float(delays)
    lines = str(exception).strip().splitlines()
    reason = lines[0].strip() if lines else type(exception).__name__
    return f"retrying in {delay:g} s ({min(done, total)} of {total}): {reason}"


TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": RETRY_DELAYS_S,
    "retry_condition_fn": is_transient,
}
"""``@task`` options: retry transient failures after :data:`RETRY_DELAYS_S`, nothing else."""
