"""Prefect flows, one deployable flow per module, and the ``pacsflow`` CLI that runs them.

Importing this package applies pacsflow's Prefect defaults (no telemetry,
no persisted results) before Prefect itself is imported. pydicom's value
warnings, which quote patient data, are silenced by the ``tasks`` package
that every flow imports (and by the CLI before a command runs): not here, so
that ``pacsflow --help`` need not load pydicom.
"""

from tasks.prefect_defaults import apply_prefect_defaults

apply_prefect_defaults()
