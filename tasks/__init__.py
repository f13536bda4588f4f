"""Prefect tasks: thin wrappers over pacsflow functions, grouped by side effect.

Importing this package applies pacsflow's Prefect defaults (no telemetry,
no persisted results) before Prefect itself is imported, and silences
pydicom's value warnings, which quote patient data.
"""

from pacsflow.dicom.reading import silence_pydicom_value_warnings
from tasks.prefect_defaults import apply_prefect_defaults

apply_prefect_defaults()
silence_pydicom_value_warnings()
