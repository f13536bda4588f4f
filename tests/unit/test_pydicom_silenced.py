"""Importing ``tasks`` silences pydicom's value warnings whichever module loads pydicom first.

pydicom's warnings quote the values they dislike (patient names among them),
so every process that runs tasks must silence them; ``tasks`` does it as
soon as pydicom is loaded. Each case runs in a fresh interpreter because the
order of first imports is what matters.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_IMPORTS = [
    "pydicom",
    "pacsflow.dicom.reading",
    # The one-pass reader imports pydicom before the reading module is loaded
    # (a C-GET or WADO-RS transport reached through the registry does this).
    "pacsflow.dicom.fast_header",
    "pacsflow.net.transports.c_get",
]

CHECK = """
import importlib, sys
import tasks  # before pydicom: the silencing waits for it
assert "pydicom" not in sys.modules, "tasks loaded pydicom itself"
importlib.import_module(sys.argv[1])
from pydicom import config
assert config.settings.reading_validation_mode == config.IGNORE, "pydicom is not silenced"
print("silenced")
"""


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_tasks_silences_pydicom_whatever_loads_it_first(first: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, first], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "silenced"
