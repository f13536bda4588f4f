"""The pacsflow command end to end, as a user runs it (a subprocess, a real Prefect server)."""

from __future__ import annotations

import csv
import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom.data
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import IngestError
from pacsflow.demo.synthetic import make_dataset, write_dataset, write_synthetic_folder
from tests.conftest import RunCli

PYDICOM_DATA = Path(pydicom.data.__file__).parent


def _corpus(root: Path) -> Path:
    """Synthetic studies, every DICOM file pydicom ships, and a few non-DICOM files."""
    write_synthetic_folder(root / "synthetic", n_studies=3, series_per_study=1, images_per_series=4)
    shutil.copytree(PYDICOM_DATA / "test_files", root / "pydicom_test_files")
    shutil.copytree(PYDICOM_DATA / "charset_files", root / "pydicom_charset_files")
    (root / "notes.txt").write_text("not DICOM")
    write_dataset(make_dataset(PatientID=None), root / "no_patient_id.dcm")
    write_dataset(make_dataset(SOPInstanceUID=None), root / "no_sop_uid.dcm")
    return root


@pytest.mark.integration
def test_cli_ingest_reports_failures_in_its_exit_status_and_reruns_cleanly(
    run_cli: RunCli,
    db_url: str,
    tmp_path: Path,
) -> None:
    src = _corpus(tmp_path / "corpus")
    first = run_cli("--db", db_url, "ingest", str(src), "--workers", "2")
    assert first.returncode == 1, first.stderr
    assert "images added" in first.stdout
    assert "MissingTagError (see the ingest_errors table)" in first.stdout
    added = int(first.stdout.split(" images added")[0].rsplit(" ", 1)[-1])
    assert added >= 12 + 60  # the synthetic files and most of pydicom's

    engine = make_engine(db_url)
    with Session(engine) as session:
        errors = {Path(e.path).name: e for e in session.scalars(select(IngestError))}
    engine.dispose()
    assert errors["notes.txt"].error_type == "InvalidDicomError"
    assert errors["no_sop_uid.dcm"].error_type == "MissingTagError"
    assert "no_patient_id.dcm" not in errors  # stored, under its study's stand-in patient
    assert "DICOMDIR" not in errors  # pydicom's DICOMDIRs are skipped, not failed
    assert "skipped: 8 DICOMDIR (no instance to store)" in first.stdout
    assert "truncated" in errors["MR_truncated.dcm"].reason
    assert all(e.flow_run_id for e in errors.values())

    again = run_cli("--db", db_url, "ingest", str(src), "--allow-failures")
    assert again.returncode == 0, again.stderr
    assert " 0 images added" in again.stdout
    assert f"{added} unchanged" in again.stdout


@pytest.mark.integration
def test_cli_init_db_then_dump(run_cli: RunCli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    init = run_cli("--db", url, "init-db")
    assert init.returncode == 0, init.stderr
    assert "is at schema revision" in init.stdout
    src = tmp_path / "src"
    write_synthetic_folder(src, n_studies=1, series_per_study=1, images_per_series=2)
    assert run_cli("--db", url, "ingest", str(src), "--no-progress").returncode == 0
    dump = run_cli("--db", url, "dump", str(tmp_path / "csv"), "--tables", "images", "series")
    assert dump.returncode == 0, dump.stderr
    with (tmp_path / "csv" / "images.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert not (tmp_path / "csv" / "patients.csv").exists()


@pytest.mark.integration
def test_cli_default_database_is_the_sqlite_file_in_the_current_folder(
    run_cli: RunCli,
    tmp_path: Path,
) -> None:
    assert run_cli("init-db").returncode == 0
    assert (tmp_path / "pacsflow.sqlite").is_file()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "missing-folder"), "missing-folder: not a folder"),
        (("dump", "out", "--tables", "imgs"), "'imgs': not a pacsflow table"),
    ],
)
def test_cli_errors_are_one_clear_line_and_exit_3(
    run_cli: RunCli,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert run_cli("--db", url, "init-db").returncode == 0
    result = run_cli("--db", url, *args)
    assert result.returncode == 3
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_cli_never_prints_the_database_password(run_cli: RunCli) -> None:
    secret = "pw-never-shown"  # noqa: S105 - a marker to search for
    result = run_cli("--db", f"postgresql+psycopg2://u:{secret}@127.0.0.1:1/x", "init-db")
    assert result.returncode == 3
    assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("notaurl", "not a database URL"),
        ("sqlite:/x.sqlite", "three slashes"),
        ("postgresql+psycopg2://u:pw-never-shown@h:abc/db", "port in the database URL"),
        ("mysql://u:pw-never-shown@h/db", "not 'mysql'"),
        ("postgresql+nodriver://u:pw-never-shown@h/db", "'postgresql+nodriver' is not installed"),
        ("sqlite://", "in-memory"),
    ],
)
def test_cli_refuses_a_malformed_db_url_in_one_line_with_usage_status(
    run_cli: RunCli, db: str, message: str
) -> None:
    result = run_cli("--db", db, "init-db")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("pacsflow init-db: --db: ")
    assert message in result.stderr
    assert "pw-never-shown" not in result.stdout + result.stderr
    from_env = run_cli("init-db", PACSFLOW_DB_URL=db)
    assert from_env.returncode == 2
    assert "$PACSFLOW_DB_URL" in from_env.stderr


def test_cli_rejects_bad_options_with_usage_status(run_cli: RunCli) -> None:
    result = run_cli("ingest", "x", "--batch-size", "0")
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


@pytest.mark.integration
def test_cli_draws_a_progress_bar_on_a_terminal(prefect_api_url: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_synthetic_folder(src, n_studies=2, series_per_study=1, images_per_series=3)
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "COLUMNS": "100", "TERM": "xterm"}
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "--db",
        f"sqlite:///{tmp_path / 'tty.sqlite'}",
        "ingest",
        str(src),
    ]
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path
    )
    os.close(terminal)
    output = bytearray()
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the CLI exited and closed the terminal
            break
        if not data:
            break
        output.extend(data)
    os.close(controller)
    assert process.wait(timeout=300) == 0
    text = output.decode("utf-8", "replace")
    assert "Ingesting 6 files" in text
    assert "6/6" in text
    assert "6 images added" in text


@pytest.mark.integration
def test_cli_keeps_the_password_out_of_flow_parameters(run_cli: RunCli, pg_admin_url: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from sqlalchemy.engine import make_url

    secret = "pw-kept-out-of-prefect"  # noqa: S105 - trust auth accepts any password
    url = make_url(pg_admin_url).set(password=secret, database="pacsflow_cli_pw")
    result = run_cli("--db", url.render_as_string(hide_password=False), "init-db")
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    with get_client(sync_client=True) as client:
        # The newest runs: the session's server holds every flow run of the suite so far.
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50)
    init_runs = [r for r in runs if r.parameters.get("db_url", "").endswith("/pacsflow_cli_pw")]
    assert init_runs, "the init-db flow run was not found"
    for run in init_runs:
        assert secret not in json.dumps(run.parameters)
