"""``pacsflow export`` refuses what it cannot do before it writes anything, and leaves a
finished export as ``cp`` would: no ``.partial/``, modes from the umask.

Root writes into any folder whatever its mode, so when the tests run as root
the read-only cases run without the capability that allows it (``setpriv``
from util-linux drops CAP_DAC_OVERRIDE): a folder of mode 555 is then as
closed to the command as to any user.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from flows.config import KEY_ENV
from pacsflow.database.engine import make_engine
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.peers.pacsflow_cli import run_pacsflow

pytestmark = [
    pytest.mark.usefixtures("prefect_api_url"),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

KEY = "a-research-export-key-of-2026"

_NO_OVERRIDE = "-dac_override"
# Prefixed to a command: run it without the right to write into folders whatever their mode.
_NO_WRITE_ALL = (
    ["setpriv", f"--inh-caps={_NO_OVERRIDE}", f"--bounding-set={_NO_OVERRIDE}", "--"]
    if os.geteuid() == 0
    else []
)


def _with_umask(mask: int) -> list[str]:
    """Prefixed to a command: run it with ``mask`` as its umask."""
    return ["sh", "-c", f'umask {mask:03o} && exec "$@"', "sh"]


@pytest.fixture
def ingested(db_url: str, tmp_path: Path) -> str:
    """One study of 2 series, 2 instances each (2024-01-10, CT), ingested."""
    source = tmp_path / "source"
    for ds in make_study(n_series=2, n_images=2, StudyDate="20240110", Modality="CT"):
        write_dataset(ds, source / f"{ds.SOPInstanceUID}.dcm")
    engine = make_engine(db_url)
    try:
        ingest_folder(engine, source, institution="EXPORT")
    finally:
        engine.dispose()
    return db_url


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_an_unknown_cohort_is_bad_usage_and_an_empty_selection_creates_no_folder(
    ingested: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, KEY_ENV: KEY}
    dest = tmp_path / "out"
    unknown = run_pacsflow(
        env, tmp_path, "--db", ingested, "export", str(dest), "--cohort", "nosuch",
        "--pseudonymise",
    )  # fmt: skip
    assert unknown.returncode == 2, unknown.stderr
    line = _one_line(unknown.stderr)
    assert "nosuch" in line
    assert "pacsflow cohort list" in line
    assert not dest.exists()

    empty = run_pacsflow(
        env, tmp_path, "--db", ingested, "export", str(dest), "--from", "2030-01-01",
        "--pseudonymise", "--json",
    )  # fmt: skip
    assert empty.returncode == 0, empty.stderr
    result = json.loads(empty.stdout.strip().splitlines()[-1])
    assert (result["studies"], result["manifest"]) == (0, None)
    assert not dest.exists(), "a selection of no study binds no folder"

    said = run_pacsflow(env, tmp_path, "--db", ingested, "export", str(dest), "--modality", "XA")
    assert said.returncode == 0, said.stderr
    assert "no ingested study matches the selection" in said.stdout
    assert not dest.exists()


def _modes(dest: Path) -> tuple[set[int], set[int]]:
    """The permission bits of the files and of the folders in ``dest`` (itself included)."""
    files: set[int] = set()
    folders = {stat.S_IMODE(dest.stat().st_mode)}
    for path in dest.rglob("*"):
        (folders if path.is_dir() else files).add(stat.S_IMODE(path.stat().st_mode))
    return files, folders


@pytest.mark.parametrize("pseudonymise", [False, True], ids=["plain", "pseudonymised"])
def test_a_finished_export_has_no_partial_folder_and_its_modes_follow_the_umask(
    ingested: str, cli_env: dict[str, str], tmp_path: Path, pseudonymise: bool
) -> None:
    dest = tmp_path / "out"
    options = ["--pseudonymise", "--workers", "1"] if pseudonymise else []
    done = run_pacsflow(
        {**cli_env, KEY_ENV: KEY}, tmp_path, "--db", ingested, "export", str(dest), *options,
        prefix=_with_umask(0o027),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["files", "manifest.json", "tables"]
    assert len(list((dest / "files").rglob("*.dcm"))) == 4
    assert _modes(dest) == ({0o640}, {0o750}), "files 0666 and folders 0777, less the umask"


def test_a_destination_it_cannot_write_is_refused_in_one_line_naming_it(
    ingested: str, cli_env: dict[str, str], workspace: Path
) -> None:
    closed = workspace / "closed"
    closed.mkdir()
    closed.chmod(0o555)
    for dest, named in ((closed, closed), (closed / "out" / "deeper", closed)):
        done = run_pacsflow(
            cli_env, workspace, "--db", ingested, "export", str(dest), prefix=_NO_WRITE_ALL
        )
        assert done.returncode == 2, done.stderr
        line = _one_line(done.stderr)
        assert f"{named}" in line
        assert "PermissionError" not in line
    assert list(closed.iterdir()) == []

    plain_file = workspace / "a-file"
    plain_file.write_text("not a folder")
    done = run_pacsflow(cli_env, workspace, "--db", ingested, "export", str(plain_file / "out"))
    assert done.returncode == 2, done.stderr
    assert str(plain_file) in _one_line(done.stderr)
