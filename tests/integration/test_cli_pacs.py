"""``pacsflow echo | find | move | run`` against a real Orthanc, as a user runs them."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import RunCli
from tests.helpers import pacs_env, table_counts

pytestmark = pytest.mark.integration

SCP_PORT = free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}, dicomweb=True).start()
    folder = tmp_path_factory.mktemp("cli-studies")
    for day in ("20240601", "20240602"):
        for ds in make_study(n_series=2, n_images=2, StudyDate=day, PatientName="Marker^Cli"):
            server.upload(write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes())
    yield server
    server.stop()


def test_cli_echo_from_options_and_environment(run_cli: RunCli, orthanc: OrthancServer) -> None:
    by_env = run_cli("echo", **pacs_env(orthanc, SCP_PORT))
    assert by_env.returncode == 0, by_env.stderr
    assert f"ORTHANC@127.0.0.1:{orthanc.dicom_port} answered the C-ECHO in" in by_env.stdout
    assert by_env.stdout.rstrip().endswith(" ms; C-FIND accepted")
    by_options = run_cli(
        "echo", "--pacs-aet", "ORTHANC", "--pacs-host", "127.0.0.1", "--pacs-port",
        str(orthanc.dicom_port),
    )  # fmt: skip
    assert by_options.returncode == 0, by_options.stderr


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # pynetdicom's socket leak, in the child
def test_cli_pacs_errors_are_one_line(run_cli: RunCli, orthanc: OrthancServer) -> None:
    closed = free_port()
    down = run_cli("echo", **{**pacs_env(orthanc, SCP_PORT), "PACSFLOW_PACS_PORT": str(closed)})
    assert down.returncode == 3
    assert down.stderr.strip().splitlines() == [
        f"pacsflow echo: ORTHANC@127.0.0.1:{closed} cannot be reached (Connection refused); "
        "is the PACS running?"
    ]
    missing = run_cli("run", "2024-06-01")
    assert missing.returncode == 2
    assert "no PACS AE title: give --pacs-aet or set $PACSFLOW_PACS_AET" in missing.stderr
    bad_date = run_cli("run", "2024-13-01", **pacs_env(orthanc, SCP_PORT))
    assert bad_date.returncode == 2
    assert "'2024-13-01' is not a date" in bad_date.stderr
    backwards = run_cli("find", "2024-06-02", "2024-06-01", **pacs_env(orthanc, SCP_PORT))
    assert backwards.returncode == 2
    assert "before the start date" in backwards.stderr


def test_cli_run_find_and_move_end_to_end(
    run_cli: RunCli, orthanc: OrthancServer, tmp_path: Path
) -> None:
    env = pacs_env(orthanc, SCP_PORT)
    db = tmp_path / "cli.sqlite"
    url = f"sqlite:///{db}"
    found = run_cli("--db", url, "find", "20240601", **env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("1 studies found (1 new) in 1 queries")

    run = run_cli("--db", url, "run", "2024-06-01", "2024-06-02", "--json", **env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["studies_found"], result["studies_new"]) == (2, 1)
    assert (result["studies_picked"], result["studies_complete"]) == (2, 2)
    assert result["images_added"] == 8
    assert table_counts(url)["images"] == 8
    assert len(list((tmp_path / "pacsflow-storage").rglob("*.dcm"))) == 8  # default folder
    assert "Marker" not in run.stdout + run.stderr

    again = run_cli("--db", url, "move", **env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 studies picked: 0 complete, 0 partial, 0 failed")


@pytest.mark.parametrize("transport", ["dicomweb", "c-get"])
def test_cli_run_over_another_transport(
    transport: str, run_cli: RunCli, orthanc: OrthancServer, tmp_path: Path
) -> None:
    """The whole pipeline by QIDO-RS + WADO-RS, or C-FIND + C-GET: no storage SCP, so the
    local port given is never bound (another process holds it)."""
    env = {
        **pacs_env(orthanc, SCP_PORT),
        "PACSFLOW_TRANSPORT": transport,
        "PACSFLOW_PACS_DICOMWEB_URL": orthanc.dicomweb_url,
    }
    if transport == "dicomweb":  # a DICOMweb PACS needs its URL only
        for name in ("PACSFLOW_PACS_AET", "PACSFLOW_PACS_HOST", "PACSFLOW_PACS_PORT"):
            del env[name]
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", SCP_PORT))
        holder.listen()
        # The ingest in a process of its own (threads by default, as in the test above).
        run = run_cli(
            "--db", url, "run", "2024-06-01", "2024-06-02", "--json", "--ingest-workers", "1",
            **env,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["studies_found"], result["studies_complete"], result["images_added"]) == (
        2,
        2,
        8,
    )
    assert len(list((tmp_path / "pacsflow-storage").rglob("*.dcm"))) == 8
    echoed = run_cli("echo", **env)
    assert echoed.returncode == 0, echoed.stderr
    if transport == "dicomweb":
        assert echoed.stdout.startswith(f"{orthanc.dicomweb_url} answered a QIDO-RS query in")


def test_cli_transport_settings_errors_are_one_line(
    run_cli: RunCli, orthanc: OrthancServer
) -> None:
    no_url = run_cli("echo", "--transport", "dicomweb")
    assert no_url.returncode == 2
    assert (
        "needs the PACS's DICOMweb URL: give --dicomweb-url or set $PACSFLOW_PACS_DICOMWEB_URL"
        in no_url.stderr
    )
    secret_url = run_cli(
        "echo", "--transport", "dicomweb", "--dicomweb-url", "https://me:pw@pacs.example/dw"
    )
    assert secret_url.returncode == 2
    assert "must not hold a user or password" in secret_url.stderr
    assert "pw@" not in secret_url.stderr
    bad = run_cli("echo", **{**pacs_env(orthanc, SCP_PORT), "PACSFLOW_TRANSPORT": "carrier-pigeon"})
    assert bad.returncode == 2
    assert "transport 'carrier-pigeon'" in bad.stderr
    late = run_cli("move", "--until", "25:00", **pacs_env(orthanc, SCP_PORT))
    assert late.returncode == 2
    assert "until '25:00' is not a time of day" in late.stderr
    half = run_cli(
        "echo",
        "--transport",
        "dicomweb",
        "--dicomweb-url",
        orthanc.dicomweb_url,
        PACSFLOW_DICOMWEB_USER="reader",
    )
    assert half.returncode == 2
    assert "PACSFLOW_DICOMWEB_PASSWORD" in half.stderr
