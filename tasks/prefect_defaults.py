"""Prefect settings pacsflow applies unless the user set them (see the README).

Applied on import of the ``tasks`` and ``flows`` packages, before Prefect
itself is imported: Prefect reads its settings then.
"""

from __future__ import annotations

import os

__all__ = ["PREFECT_DEFAULTS", "apply_prefect_defaults"]

PREFECT_DEFAULTS = {
    # No telemetry leaves a hospital network.
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The V2 UI calls an analytics host from the browser even then; V1 does not.
    "PREFECT_SERVER_UI_V2_ENABLED": "false",
    # The temporary server can take 10-20 s to start on a small, busy machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Task and flow results may hold identifiers: never written to disk unless asked.
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    # pacsflow's own log lines (loggers pacsflow.*) go to the run's logs in the UI too;
    # its console output is unchanged (Prefect adds only its API handler to them).
    "PREFECT_LOGGING_EXTRA_LOGGERS": "pacsflow",
    # A pacsflow line outside a flow run (a receiver thread, the CLI itself) stays on
    # the console only, without a warning that it could not be sent.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}
"""Prefect settings pacsflow applies unless the user set them (see the README)."""


def apply_prefect_defaults() -> None:
    """Put :data:`PREFECT_DEFAULTS` in the environment where the user has not set them.

    Must run before Prefect is imported: Prefect reads its settings then.
    """
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
