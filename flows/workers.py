"""Running tasks in worker processes that report to the flow's own Prefect server."""

from __future__ import annotations

import os

from prefect.client.orchestration import get_client
from prefect.task_runners import ProcessPoolTaskRunner

__all__ = ["process_pool"]


def process_pool(workers: int) -> ProcessPoolTaskRunner:
    """A process-pool task runner whose workers use the flow's Prefect API.

    With no ``PREFECT_API_URL`` set, Prefect serves the flow from a temporary
    server; the spawned workers do not inherit its address and would each
    start a temporary server of their own (~10 s each, and their task runs
    would be recorded there). Prefect passes ``os.environ`` to the workers at
    submit time, so exporting the address here makes them share the flow's.
    """
    if not os.environ.get("PREFECT_API_URL"):
        with get_client(sync_client=True) as client:
            os.environ["PREFECT_API_URL"] = str(client.api_url)
    return ProcessPoolTaskRunner(max_workers=workers)
