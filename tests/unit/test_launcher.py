"""pacsflow.launcher from a checkout: the repository root holds the flows, nothing else moves."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from pacsflow import launcher

REPO = Path(__file__).resolve().parents[2]


def test_from_a_checkout_the_flows_are_at_the_repository_root() -> None:
    assert launcher.app_directory() == REPO
    before = list(sys.path)
    # The pull step of deployments/prefect.yaml: the entrypoints are relative to this folder.
    assert launcher.app_working_directory() == {"directory": str(REPO)}
    assert sys.path == before  # the editable install has put the root on sys.path already


def test_another_projects_flows_package_in_the_process_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    foreign = types.ModuleType("flows")
    foreign.__file__ = str(tmp_path / "flows" / "__init__.py")
    monkeypatch.setitem(sys.modules, "flows", foreign)
    with pytest.raises(ImportError, match=r"Another package named 'flows' \(/"):
        launcher.expose_app()


def test_python_m_launcher_runs_a_module_of_the_flows_as_main(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pacsflow.launcher", "flows.cli", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: pacsflow ")
    bare = subprocess.run(
        [sys.executable, "-m", "pacsflow.launcher"], capture_output=True, text=True, check=False
    )
    assert (bare.returncode, bare.stderr.strip()) == (
        1,
        "usage: python -m pacsflow.launcher MODULE [ARG ...]",
    )
