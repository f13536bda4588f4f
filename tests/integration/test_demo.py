"""``make demo`` (scripts/demo.py): the pipeline end to end against the PACS it starts itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import table_counts

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
DEMO = SCRIPTS / "demo.py"


def _demo(cwd: Path, prefect_api_url: str, pacs: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "PACSFLOW_DEMO_PACS": pacs}
    env.pop("PACSFLOW_DB_URL", None)
    return subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("pacs", ["orthanc", "qrscp"])
def test_demo_retrieves_every_study_then_nothing_more(
    prefect_api_url: str, tmp_path: Path, pacs: str
) -> None:
    first = _demo(tmp_path, prefect_api_url, pacs)
    assert first.returncode == 0, first.stderr
    assert "12 studies found (12 new)" in first.stdout
    assert "12 picked: 12 complete, 0 partial, 0 failed; 240 images added" in first.stdout
    assert table_counts(f"sqlite:///{tmp_path / 'pacsflow.sqlite'}") == {
        "studies_find": 12,
        "patients": 4,
        "studies": 12,
        "series": 24,
        "images": 240,
        "ingest_errors": 0,
    }
    assert len(list((tmp_path / "demo-storage").rglob("*.dcm"))) == 240
    if pacs == "orthanc":  # a re-run is the same on either PACS: once is enough
        again = _demo(tmp_path, prefect_api_url, pacs)
        assert again.returncode == 0, again.stderr
        assert "12 studies found (0 new)" in again.stdout
        assert "0 picked" in again.stdout
        assert table_counts(f"sqlite:///{tmp_path / 'pacsflow.sqlite'}")["images"] == 240


def test_demo_deps_without_root_or_orthanc_fall_back_to_qrscp_in_one_line() -> None:
    """``make demo`` as a user who cannot install Orthanc: one line, and the demo goes on."""
    if os.geteuid() == 0:
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        as_user = []
    done = subprocess.run(
        [*as_user, "bash", str(SCRIPTS / "install-system-deps.sh"), "demo"],
        env={"PATH": "/usr/bin:/bin", "PACSFLOW_ORTHANC": "/nonexistent/Orthanc"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "pynetdicom's bundled qrscp" in lines[0]
