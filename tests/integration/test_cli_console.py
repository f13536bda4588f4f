"""What ``pacsflow`` prints: its own short lines by default, Prefect's tracebacks with ``-v``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import RunCli
from tests.helpers import pacs_env

REPO = Path(__file__).resolve().parents[2]
SCP_PORT = free_port()


def test_cli_help_loads_neither_pydicom_nor_prefect() -> None:
    """``pacsflow --help`` answers fast: the heavy libraries wait for a command that needs them."""
    script = (
        "import sys\n"
        "from flows.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('pydicom', 'pynetdicom', 'prefect', 'alembic', 'sqlalchemy.orm') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "usage: pacsflow" in done.stdout


def test_cli_defaults_are_the_libraries() -> None:
    """The CLI keeps copies of two defaults so that --help need not import their modules."""
    from flows.cli.main import DEFAULT_BATCH_SIZE
    from flows.cli.pacs_options import DEFAULT_MAX_ATTEMPTS
    from pacsflow.ingest.batch import DEFAULT_BATCH_SIZE as BATCH_DEFAULT
    from pacsflow.retrieval.attempts import DEFAULT_MAX_ATTEMPTS as ATTEMPTS_DEFAULT

    assert DEFAULT_BATCH_SIZE == BATCH_DEFAULT
    assert DEFAULT_MAX_ATTEMPTS == ATTEMPTS_DEFAULT


def test_cli_bad_usage_is_one_line(run_cli: RunCli) -> None:
    bad_date = run_cli("run", "2024-13-01")
    assert bad_date.returncode == 2
    assert bad_date.stderr.splitlines() == [
        "pacsflow run: argument start: '2024-13-01' is not a date: give YYYY-MM-DD, "
        "YYYYMMDD, today or yesterday (see pacsflow run --help)"
    ]
    no_command = run_cli()
    assert no_command.returncode == 2
    assert len(no_command.stderr.splitlines()) == 1


def test_cli_quietly_stops_when_its_reader_closes_the_pipe(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """``pacsflow ... | head -2``: no BrokenPipeError, the status of a command ended by SIGPIPE."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone before pacsflow writes its first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "server", "status"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == 141


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_unreachable_pacs_shows_its_retries_then_one_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    env = {"PACSFLOW_PACS_AET": "ORTHANC", "PACSFLOW_PACS_HOST": "127.0.0.1",
           "PACSFLOW_PACS_PORT": str(port)}  # fmt: skip
    url = f"sqlite:///{tmp_path / 'down.sqlite'}"
    down = run_cli("--db", url, "find", "2024-06-01", **env)
    assert down.returncode == 3, down.stderr
    lines = down.stderr.strip().splitlines()
    unreachable = (
        f"ORTHANC@127.0.0.1:{port} cannot be reached (Connection refused); is the PACS running?"
    )
    assert lines == [
        f"pacsflow find: retrying in 0.2 s (1 of 2): {unreachable}",
        f"pacsflow find: retrying in 0.2 s (2 of 2): {unreachable}",
        f"pacsflow find: {unreachable}",
    ]
    verbose = run_cli("--db", url, "-v", "find", "2024-06-01", **env)
    assert verbose.returncode == 3
    assert "Traceback" in verbose.stderr
    assert "prefect.task_runs" in verbose.stderr


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_ctrl_c_says_a_rerun_resumes(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Ctrl-C while a find waits on a PACS that accepted the connection and says nothing."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(240)
        env = {**cli_env, "PACSFLOW_PACS_AET": "ORTHANC", "PACSFLOW_PACS_HOST": "127.0.0.1",
               "PACSFLOW_PACS_PORT": str(silent.getsockname()[1])}  # fmt: skip
        url = f"sqlite:///{tmp_path / 'interrupted.sqlite'}"
        with subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "--db", url, "find", "2024-06-01"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        ) as process:  # its pipes are closed, and it is waited for, on leaving
            try:
                connection, _ = silent.accept()  # the find task runs: it waits for the answer
                with connection:
                    process.send_signal(signal.SIGINT)
                    _, stderr = process.communicate(timeout=120)
            finally:
                if process.poll() is None:
                    process.kill()
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == [
        "pacsflow find: interrupted; nothing is lost, run the same command again to resume"
    ]


@pytest.mark.integration
def test_cli_os_error_is_one_line_naming_the_path(run_cli: RunCli, tmp_path: Path) -> None:
    """As root no folder is read-only: /sys refuses a new folder to anyone (EPERM)."""
    url = f"sqlite:///{tmp_path / 'dump.sqlite'}"
    assert run_cli("--db", url, "init-db").returncode == 0
    dest = "/sys/pacsflow-dump-test"
    done = run_cli("--db", url, "dump", dest)
    assert done.returncode == 3, done.stdout
    assert done.stderr.splitlines() == [
        f"pacsflow dump: {dest}: operation not permitted; "
        "give a path this user may use, or change its permissions"
    ]


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_find_from_an_ae_title_the_pacs_does_not_know_fails_at_once(
    run_cli: RunCli, orthanc: OrthancServer, tmp_path: Path
) -> None:
    """Orthanc aborts the first C-FIND of an unknown calling AE: permanent, so no retry line."""
    url = f"sqlite:///{tmp_path / 'stranger.sqlite'}"
    args = ("--db", url, "find", "2024-01-01", "2024-01-02", "--local-aet", "STRANGER")
    done = run_cli(*args, **pacs_env(orthanc, SCP_PORT))
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines() == [
        f"pacsflow find: the PACS ORTHANC at 127.0.0.1:{orthanc.dicom_port} aborted the "
        "association for our calling AE title STRANGER: add STRANGER (this host's address, "
        f"port {SCP_PORT}) to its known modalities (Orthanc: DicomModalities), or give an AE "
        "title it knows (--local-aet)"
    ]


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_cohort_rerun_with_another_file_is_one_line(
    run_cli: RunCli, orthanc: OrthancServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cohort.sqlite'}"
    first, second = tmp_path / "one.csv", tmp_path / "two.csv"
    first.write_text("AccessionNumber\nNOSUCH1\n")
    second.write_text("AccessionNumber\nNOSUCH2\n")
    env = pacs_env(orthanc, SCP_PORT)
    assert run_cli("--db", url, "init-db").returncode == 0
    done = run_cli("--db", url, "cohort", "run", str(first), "--name", "lung", **env)
    assert done.returncode == 1, done.stderr  # its one study is not found
    again = run_cli("--db", url, "cohort", "run", str(second), "--name", "lung", **env)
    assert again.returncode == 2, again.stderr
    lines = again.stderr.splitlines()
    assert len(lines) == 1, again.stderr
    assert lines[0].startswith("pacsflow cohort: ")
    assert "lung" in lines[0]


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_find_rejected_for_its_calling_ae_title_fails_at_once(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A PACS that answers A-ASSOCIATE-RJ "calling AE title not recognised": no retry line."""
    from pynetdicom import AE
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]
        StudyRootQueryRetrieveInformationModelFind,
    )

    scp = AE(ae_title="STRICT")
    scp.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    scp.require_calling_aet = ["PACSFLOW"]
    port = free_port()
    server = scp.start_server(("127.0.0.1", port), block=False)
    assert server is not None
    try:
        url = f"sqlite:///{tmp_path / 'strict.sqlite'}"
        env = {"PACSFLOW_PACS_AET": "STRICT", "PACSFLOW_PACS_HOST": "127.0.0.1",
               "PACSFLOW_PACS_PORT": str(port), "PACSFLOW_LOCAL_PORT": str(SCP_PORT)}  # fmt: skip
        done = run_cli("--db", url, "find", "2024-01-01", "--local-aet", "STRANGER", **env)
    finally:
        server.shutdown()
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines() == [
        f"pacsflow find: the PACS STRICT at 127.0.0.1:{port} rejected our calling AE title "
        f"STRANGER: add STRANGER (this host's address, port {SCP_PORT}) to its known "
        "modalities (Orthanc: DicomModalities), or give an AE title it knows (--local-aet)"
    ]


def test_cli_worker_processes_keep_prefect_lines_off_the_console(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """ingest and the pseudonymised export run tasks in worker processes, which set
    up Prefect's logging afresh: their task states must not reach the console either."""
    from pacsflow.demo.synthetic import write_synthetic_folder

    folder = tmp_path / "ward"
    write_synthetic_folder(folder, n_studies=2, series_per_study=1, images_per_series=2)
    url = f"sqlite:///{tmp_path / 'workers.sqlite'}"
    ingest = run_cli("--db", url, "ingest", str(folder), "--workers", "2")
    export = run_cli(
        "--db", url, "export", str(tmp_path / "out"), "--pseudonymise", "--workers", "2",
        PACSFLOW_PSEUDONYM_KEY="console-test-key-0123456789",
    )  # fmt: skip
    for done in (ingest, export):
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", "nothing but pacsflow's own lines, and there were none"
    assert "4 images added" in ingest.stdout
    assert "2 studies exported" in export.stdout
