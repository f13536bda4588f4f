"""Prefect tasks: thin wrappers over pacsflow functions, grouped by side effect.

Importing this package applies pacsflow's Prefect defaults (no telemetry,
no persisted results) before Prefect itself is imported, and silences
pydicom's value warnings, which quote patient data: at once if pydicom is
loaded, else as soon as it is (so that ``pacsflow --help``, which imports
this package for the settings' names, need not load pydicom).
"""

import sys
from importlib.machinery import ModuleSpec
from typing import Any

from tasks.prefect_defaults import apply_prefect_defaults


def _silence_pydicom() -> None:
    # This module imports pydicom only, never a pacsflow module that may be
    # half loaded at this moment (the one whose import loaded pydicom).
    from pacsflow.dicom.pydicom_warnings import silence_pydicom_value_warnings

    silence_pydicom_value_warnings()


class _SilenceOnceLoaded:  # a meta path finder (importlib.abc costs --help 12 ms)
    """Finds nothing itself; silences pydicom as soon as pydicom has loaded, whoever loads it."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if name != "pydicom":
            return None
        spec = next(
            (
                found
                for finder in sys.meta_path
                if finder is not self and (found := finder.find_spec(name, path, target))
            ),
            None,
        )
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
                _silence_pydicom()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


apply_prefect_defaults()
if "pydicom" in sys.modules:
    _silence_pydicom()
else:
    sys.meta_path.insert(0, _SilenceOnceLoaded())
