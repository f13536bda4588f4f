"""Folders that cannot be listed are recorded and fail the run, never skipped in silence.

Root reads every folder whatever its mode, so when the tests run as root the
ingest runs without the capabilities that allow it (``setpriv`` from
util-linux drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH): a folder of mode
000 is then as closed to it as to any user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, IngestError
from pacsflow.peers.pacsflow_cli import run_pacsflow
from tests.factories import make_study, write_dataset

# parse_dir2sql in a process of its own; prints its summary as JSON.
_PARSE = """
import json, sys
from pacsflow.db import parse_dir2sql
summary = parse_dir2sql(sys.argv[1], sys.argv[2], create_tables=True)
print(json.dumps(summary.as_dict()))
"""
_NO_OVERRIDE = "-dac_override,-dac_read_search"


# Prefixed to a command: run it without the right to read folders whatever their mode.
_NO_READ_ALL = (
    ["setpriv", f"--inh-caps={_NO_OVERRIDE}", f"--bounding-set={_NO_OVERRIDE}", "--"]
    if os.geteuid() == 0
    else []
)


def _tree(root: Path) -> tuple[Path, Path]:
    """``dicom/open/`` with 2 files and ``dicom/locked/`` (mode 000) with 2 more."""
    for i, ds in enumerate(make_study(n_images=4)):
        write_dataset(ds, root / "dicom" / ("open" if i < 2 else "locked") / f"{i}.dcm")
    locked = root / "dicom" / "locked"
    locked.chmod(0)
    return root / "dicom", locked


def _errors(url: str) -> dict[str, tuple[str, str]]:
    engine = make_engine(url)
    with Session(engine) as session:
        query = select(IngestError.path, IngestError.error_type, IngestError.reason)
        rows = {path: (kind, reason) for path, kind, reason in session.execute(query)}
        rows["<images>"] = (str(len(session.scalars(select(Image.id)).all())), "")
    engine.dispose()
    return rows


def _parse(folder: Path, url: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*_NO_READ_ALL, sys.executable, "-c", _PARSE, str(folder), url],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_an_unreadable_subfolder_is_recorded_as_a_failure(workspace: Path) -> None:
    top, locked = _tree(workspace)
    url = f"sqlite:///{workspace / 'db.sqlite'}"
    summary = _parse(top, url, workspace)
    assert summary["images_added"] == 2
    assert summary["failed_by_reason"] == {"UnreadableFolderError": 1}
    errors = _errors(url)
    kind, reason = errors[str(locked)]
    assert kind == "UnreadableFolderError"
    assert "Permission denied" in reason
    assert "not ingested" in reason


def test_an_unreadable_folder_given_to_ingest_is_recorded_too(workspace: Path) -> None:
    _top, locked = _tree(workspace)
    url = f"sqlite:///{workspace / 'db.sqlite'}"
    summary = _parse(locked, url, workspace)
    assert (summary["files_seen"], summary["failed"], summary["images_added"]) == (1, 1, 0)
    assert _errors(url)[str(locked)][0] == "UnreadableFolderError"


@pytest.mark.integration
def test_cli_ingest_of_a_tree_with_an_unreadable_folder_exits_1(
    workspace: Path, cli_env: dict[str, str]
) -> None:
    top, locked = _tree(workspace)
    url = f"sqlite:///{workspace / 'db.sqlite'}"
    done = run_pacsflow(
        cli_env, workspace, "--db", url, "ingest", str(top), "--no-progress", prefix=_NO_READ_ALL
    )
    assert done.returncode == 1, done.stderr
    assert "failed: 1 UnreadableFolderError (see the ingest_errors table)" in done.stdout
    errors = _errors(url)
    assert errors[str(locked)][0] == "UnreadableFolderError"
    assert errors["<images>"][0] == "2"
