"""Which task failures Prefect should retry: transient ones only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import OperationalError

from pacsflow.errors import RetryableError

__all__ = ["RETRY_DELAYS_S", "TRANSIENT_RETRIES", "is_transient"]

RETRY_DELAYS_S: list[float] = [2.0, 10.0, 30.0]
"""Waits before the first, second and third retry of a transient failure."""

_TRANSIENT = (RetryableError, OperationalError, TimeoutError, ConnectionError)


def is_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry timeouts, lost connections, busy databases.

    Bad data and refused requests (:class:`~pacsflow.errors.PermanentError`)
    fail at once: a retry would meet the same answer.
    """
    try:
        exception = state.result(raise_on_failure=False)
    except Exception:  # the result itself could not be read: do not guess
        return False
    return isinstance(exception, _TRANSIENT)


TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_S),
    "retry_delay_seconds": RETRY_DELAYS_S,
    "retry_condition_fn": is_transient,
}
"""``@task`` options: retry transient failures after :data:`RETRY_DELAYS_S`, nothing else."""
