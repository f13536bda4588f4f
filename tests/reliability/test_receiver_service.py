"""Case 6b: the receiver service, pacsflow's storage SCP in processes of its own.

Its refusals (unknown calling AE titles, UIDs that are not UIDs, a disk that
cannot take the file), its supervision (a killed process is replaced; one
receiver per storage folder; a port held by another program), and its command
(``pacsflow receiver`` run / status / stop, and the ops script's). Senders: DCMTK's ``storescu`` and
pynetdicom.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.nodes import LocalAE
from pacsflow.net.receiver_config import ENGINE_ENV, default_workers
from pacsflow.net.receiver_files import (
    ReceiverStatus,
    lock_is_held,
    new_lease,
    running_receiver,
)
from pacsflow.net.receiver_lease import (
    IDLE_EXIT_ENV,
    ReceiverMismatchError,
    ReceiverStartError,
    ensure_receiver,
    stop_receiver,
)
from pacsflow.net.storage import STATUS_CANNOT_UNDERSTAND, STATUS_OUT_OF_RESOURCES
from pacsflow.net.storage_files import INCOMING_FOLDER
from pacsflow.peers.dcmtk import storescu
from pacsflow.peers.ports import free_port
from tests.conftest import RunCli
from tests.helpers import found_studies
from tests.peers.prefect_ops import run_ops
from tests.reliability.processes import start_cli
from tests.reliability.test_pacs_faults import _found, _move, _orthanc, _orthanc_ae
from tests.reliability.test_scp_hostility import _send

pytestmark = pytest.mark.integration


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return (tmp_path / "storage").resolve()


@pytest.fixture(params=["dcmtk", "pynetdicom"])
def receiver(
    request: pytest.FixtureRequest, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReceiverStatus]:
    """A receiver started on demand, with each engine: the compiled one and the fallback."""
    with monkeypatch.context() as env:
        env.setenv(ENGINE_ENV, request.param)  # the service reads it when it starts
        status = ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU")
    assert status.engine == request.param
    yield status
    stop_receiver(storage)


def _stored(storage: Path) -> list[Path]:
    return sorted(p for p in storage.rglob("*.dcm") if INCOMING_FOLDER not in p.parts)


def _incoming(storage: Path) -> list[Path]:
    return list((storage / INCOMING_FOLDER).iterdir())


def _files(folder: Path, datasets: list[pydicom.Dataset]) -> list[Path]:
    return [write_dataset(ds, folder / f"{i}.dcm") for i, ds in enumerate(datasets)]


def test_processes_share_one_port_and_files_land_whole(
    receiver: ReceiverStatus, storage: Path, tmp_path: Path
) -> None:
    assert len(receiver.workers) == default_workers()
    assert all(pid != receiver.pid for pid in receiver.workers)
    studies = [make_study(n_series=2, n_images=5) for _ in range(2)]
    senders = [
        storescu(
            _files(tmp_path / f"send{i}", study),
            receiver.port,
            calling="STORESCU",
            called="PACSFLOW",
        )
        for i, study in enumerate(studies)
    ]
    assert [done.returncode for done in senders] == [0, 0]
    sent = {ds.SOPInstanceUID: ds for study in studies for ds in study}
    stored = _stored(storage)
    assert sorted(p.stem for p in stored) == sorted(sent)
    for path in stored:
        ds = pydicom.dcmread(path)
        assert ds == sent[path.stem]  # every element, pixel data included
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert str(ds.file_meta.SourceApplicationEntityTitle).strip() == "STORESCU"
        assert path.parent.name == ds.SeriesInstanceUID
        assert path.parent.parent.name == ds.StudyInstanceUID
    assert _incoming(storage) == []
    log = (storage / ".receiver" / "receiver.log").read_text()
    assert "W:" not in log, "no log line per file received"
    assert "skipping" not in log


@pytest.mark.parametrize(
    ("converted", "proposed", "syntax"),
    [
        (["dcmcjpeg", "+e1"], "-xs", "1.2.840.10008.1.2.4.70"),  # JPEG lossless, first order
        (["dcmcrle"], "-xr", "1.2.840.10008.1.2.5"),  # RLE lossless
        (["dcmconv", "+td"], "-xd", "1.2.840.10008.1.2.1.99"),  # deflated explicit little endian
        (["dcmconv", "+ti"], "-xi", "1.2.840.10008.1.2"),  # implicit little endian
    ],
)
def test_each_transfer_syntax_is_stored_as_sent(
    receiver: ReceiverStatus,
    storage: Path,
    tmp_path: Path,
    converted: list[str],
    proposed: str,
    syntax: str,
) -> None:
    """A compressed, deflated or implicit data set, proposed in its own transfer syntax
    only, is accepted and kept in it, its pixel data as sent."""
    (plain,) = _files(tmp_path / "plain", make_study(n_images=1))
    sent = tmp_path / "sent.dcm"
    subprocess.run([*converted, str(plain), str(sent)], check=True, capture_output=True)
    original = pydicom.dcmread(sent)
    assert original.file_meta.TransferSyntaxUID == syntax
    done = storescu(
        [sent], receiver.port, calling="STORESCU", called="PACSFLOW", options=[proposed, "-R"]
    )
    assert done.returncode == 0, done.stderr
    (stored,) = _stored(storage)
    received = pydicom.dcmread(stored)
    assert received.file_meta.TransferSyntaxUID == syntax
    assert received.PixelData == original.PixelData
    assert received.SOPInstanceUID == original.SOPInstanceUID


def test_unknown_calling_ae_is_rejected(
    receiver: ReceiverStatus, storage: Path, tmp_path: Path
) -> None:
    files = _files(tmp_path / "send", make_study(n_images=2))
    done = storescu(files, receiver.port, calling="INTRUDER", called="PACSFLOW")
    assert done.returncode != 0
    assert "calling ae title not recognized" in (done.stderr + done.stdout).lower()
    assert _stored(storage) == []


def test_invalid_uids_are_refused_and_nothing_is_written(
    receiver: ReceiverStatus, storage: Path, tmp_path: Path
) -> None:
    good, bad, worse = make_study(n_images=3)
    for ds in (good, bad, worse):
        write_dataset(ds, tmp_path / "send" / "x.dcm")  # gives each its file meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns of the invalid UIDs: that is the point
        bad.SOPInstanceUID = "1.2.3/../../escaped"
        worse.StudyInstanceUID = ".."
        statuses = _send(receiver.port, [good, bad, worse])
    assert statuses == [0x0000, STATUS_CANNOT_UNDERSTAND, STATUS_CANNOT_UNDERSTAND]
    assert [p.stem for p in _stored(storage)] == [good.SOPInstanceUID]
    assert not [p for p in tmp_path.rglob("escaped*")]
    assert _incoming(storage) == []


def test_a_file_the_disk_cannot_take_is_refused_and_leaves_nothing(
    receiver: ReceiverStatus, storage: Path
) -> None:
    """A write that fails for lack of room (here the receiving processes' file-size
    limit, EFBIG, as ENOSPC would) answers Out of Resources and leaves no partial file;
    the same instance is stored once there is room again."""
    study = make_study(n_images=2)  # ~1.7 kB each
    for ds in study:
        write_dataset(ds, storage.parent / "send" / f"{ds.SOPInstanceUID}.dcm")
    for pid in receiver.workers:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
    assert _send(receiver.port, study) == [STATUS_OUT_OF_RESOURCES] * 2
    assert _stored(storage) == []
    assert _incoming(storage) == []
    for pid in receiver.workers:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    assert _send(receiver.port, study) == [0x0000] * 2
    assert len(_stored(storage)) == 2


@pytest.mark.parametrize("receiver", ["dcmtk"], indirect=True)
def test_a_compiled_program_killed_mid_file_leaves_no_partial_file(
    receiver: ReceiverStatus, storage: Path, tmp_path: Path
) -> None:
    """The program serving an association is killed while a file is being received:
    the sender fails, its receiving process lives on and deletes the partial file."""
    study = make_study(n_series=1, n_images=60)
    for ds in study:
        ds.PixelData = bytes(512 * 1024)  # ~0.5 MB each: a partial file exists most of the time
        ds.Rows = ds.Columns = 512
    files = _files(tmp_path / "send", study)
    sender = subprocess.Popen(
        ["storescu", "-aet", "STORESCU", "-aec", "PACSFLOW", "127.0.0.1", str(receiver.port)]
        + [str(f) for f in files],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed = None
    deadline = time.monotonic() + 30
    while killed is None and time.monotonic() < deadline and sender.poll() is None:
        programs = [
            int(pid)
            for worker in receiver.workers
            for pid in Path(f"/proc/{worker}/task/{worker}/children").read_text().split()
        ]
        if programs and _incoming(storage):
            os.kill(programs[0], signal.SIGKILL)
            killed = programs[0]
        time.sleep(0.002)
    assert killed is not None, "no program was seen receiving"
    assert sender.wait(timeout=60) != 0, "the sender saw its association end"
    deadline = time.monotonic() + 10
    while _incoming(storage):
        assert time.monotonic() < deadline, f"partial files left: {_incoming(storage)}"
        time.sleep(0.1)
    assert running_receiver(storage) == receiver, "the receiving processes live on"
    for path in _stored(storage):
        assert len(pydicom.dcmread(path).PixelData) == 512 * 1024  # whole files only


def test_a_killed_receiving_process_is_replaced(
    receiver: ReceiverStatus, storage: Path, tmp_path: Path
) -> None:
    os.kill(receiver.workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (status := running_receiver(storage)) is None or receiver.workers[0] in status.workers:
        assert time.monotonic() < deadline, "the dead process was not replaced"
        time.sleep(0.1)
    assert status.pid == receiver.pid
    assert len(status.workers) == len(receiver.workers)
    files = _files(tmp_path / "send", make_study(n_images=4))
    assert storescu(files, receiver.port, calling="STORESCU", called="PACSFLOW").returncode == 0
    assert len(_stored(storage)) == 4


def test_without_a_compiler_the_receiver_falls_back_to_pynetdicom_and_says_so_once(
    storage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto`` (the default) where the compiled receiver cannot be built (here: no
    C++ compiler on the PATH): pynetdicom receives, and the log says why, once."""
    with monkeypatch.context() as env:
        env.setenv("PATH", str(tmp_path / "no-tools"))
        env.delenv(ENGINE_ENV, raising=False)
        status = ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU")
    try:
        assert status.engine == "pynetdicom"
        files = _files(tmp_path / "send", make_study(n_images=3))
        assert storescu(files, status.port, calling="STORESCU", called="PACSFLOW").returncode == 0
        assert len(_stored(storage)) == 3
    finally:
        stop_receiver(storage)
    log = (storage / ".receiver" / "receiver.log").read_text()
    assert log.count("Receiving with pynetdicom") == 1
    assert "no C++ compiler (g++) found" in log


def test_a_receiver_asked_for_the_compiled_engine_that_cannot_build_it_says_why(
    storage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    monkeypatch.setenv(ENGINE_ENV, "dcmtk")
    with pytest.raises(ReceiverStartError, match=r"compiled receiver is not available: no C\+\+"):
        ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU")
    assert running_receiver(storage) is None


def test_one_receiver_per_folder_and_runs_must_match_it(
    receiver: ReceiverStatus, storage: Path
) -> None:
    again = ensure_receiver(LocalAE("PACSFLOW", receiver.port), storage, "STORESCU")
    assert again.pid == receiver.pid, "reused, not started twice"
    lease = new_lease(storage)  # a run is using it: it stays, the other run is told why
    with pytest.raises(ReceiverMismatchError, match=rf"not OTHER on port {receiver.port}"):
        ensure_receiver(LocalAE("OTHER", receiver.port), storage, "STORESCU")
    with pytest.raises(ReceiverMismatchError, match="accepts only STORESCU, not ORTHANC"):
        ensure_receiver(LocalAE("PACSFLOW", receiver.port), storage, "ORTHANC")
    lease.unlink()
    # No run uses it any more: one started on demand gives way to the new settings.
    port = free_port()
    replaced = ensure_receiver(LocalAE("PACSFLOW", port), storage, "ORTHANC")
    assert replaced.pid != receiver.pid
    assert (replaced.port, replaced.allowed_ae_titles) == (port, ("ORTHANC",))


def test_a_port_held_by_another_program_is_a_clear_error(storage: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ReceiverStartError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            ensure_receiver(LocalAE("PACSFLOW", port), storage, "STORESCU")
    assert running_receiver(storage) is None


def test_the_receiver_command_runs_shows_and_stops(
    run_cli: RunCli, cli_env: dict[str, str], storage: Path, tmp_path: Path
) -> None:
    port = free_port()
    options = ["--local-port", str(port), "--storage", str(storage)]
    log = tmp_path / "receiver.log"
    service = start_cli(["receiver", *options, "--allow", "STORESCU"], cli_env, tmp_path, log)
    try:
        deadline = time.monotonic() + 30
        while (status := running_receiver(storage)) is None:
            assert service.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert status.pid == service.pid  # the command became the service
        shown = run_cli("receiver", "status", *options)
        assert shown.returncode == 0, shown.stderr
        assert f"PACSFLOW on 127.0.0.1:{port}" in shown.stdout
        assert "accepts STORESCU" in shown.stdout
        assert "engine dcmtk" in shown.stdout  # auto, with DCMTK's headers and g++ here
        second = run_cli("receiver", *options, "--allow", "STORESCU")
        assert second.returncode == 3
        assert "a receiver already serves" in second.stderr
        files = _files(tmp_path / "send", make_study(n_images=2))
        assert storescu(files, port, calling="STORESCU", called="PACSFLOW").returncode == 0
        stopped = run_cli("receiver", "stop", *options)
        assert stopped.returncode == 0, stopped.stderr
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()
    assert running_receiver(storage) is None
    assert len(_stored(storage)) == 2
    assert "no receiver serves" in run_cli("receiver", "status", *options).stdout
    bad = run_cli("receiver", *options, "--allow", "NOT A VALID AE TITLE!")
    assert bad.returncode == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # pynetdicom, refused connections
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_receiver_killed_mid_study_marks_nothing_and_the_retry_completes(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    study = make_study(n_series=1, n_images=150, StudyDate="20240310")
    server = _orthanc(tmp_path, port, [study])
    (uid,) = _found(db_url, [study])
    storage = (tmp_path / "storage").resolve()
    killed: list[ReceiverStatus] = []
    flow_ended = threading.Event()

    def kill_when_files_arrive() -> None:
        while not flow_ended.is_set():
            status = running_receiver(storage)
            if status is not None and any((storage / uid).rglob("*.dcm")):
                os.killpg(status.pid, signal.SIGKILL)  # the supervisor and its processes
                killed.append(status)
                return
            flow_ended.wait(0.005)

    killer = threading.Thread(target=kill_when_files_arrive)
    killer.start()
    try:
        first = _move(_orthanc_ae(server), db_url, port, storage).result()
        flow_ended.set()
        killer.join(timeout=60)
        assert killed, "the receiver was never seen receiving"
        row = found_studies(db_url)[uid]
        # The PACS reports the sub-operations it could not complete: a failed try,
        # nothing marked retrieved, what arrived kept.
        assert (first.studies_complete, first.studies_failed) == (0, 1)
        assert (row.retrieved_on, row.attempts) == (None, 1)
        assert 1 <= (row.received_instances or 0) < len(study)

        second = _move(_orthanc_ae(server), db_url, port, storage).result()
    finally:
        flow_ended.set()
        server.stop()
    assert second.studies_complete == 1
    row = found_studies(db_url)[uid]
    assert row.retrieved_on is not None
    assert row.received_instances == len(study)
    stored = _stored(storage)
    assert sorted(p.stem for p in stored) == sorted(ds.SOPInstanceUID for ds in study)
    for path in stored:
        pydicom.dcmread(path)  # whole files only
    assert _incoming(storage) == [], "the killed processes' partial files were cleared"
    started = (
        (storage / ".receiver" / "receiver.log").read_text().count("Receiver PACSFLOW listening")
    )
    assert started == 2, "the second run started a new receiver"


def test_the_ops_script_starts_shows_and_stops_the_receiver(
    cli_env: dict[str, str], storage: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **cli_env,
        "PACSFLOW_RUN_DIR": str(tmp_path / "run"),
        "PACSFLOW_LOCAL_PORT": str(port),
        "PACSFLOW_STORAGE": str(storage),
        "PACSFLOW_PACS_AET": "STORESCU",
    }
    started = run_ops(env, "receiver")
    assert f"PACSFLOW on 127.0.0.1:{port}" in started
    status = running_receiver(storage)
    assert status is not None
    assert status.idle_exit is None, "an operator's receiver stays"
    assert "accepts STORESCU" in run_ops(env, "status")
    run_ops(env, "stop")
    assert running_receiver(storage) is None


def test_a_receiver_started_on_demand_stays_while_leased_then_leaves(storage: Path) -> None:
    idle = float(os.environ[IDLE_EXIT_ENV])
    status = ensure_receiver(LocalAE("PACSFLOW", free_port()), storage, "STORESCU")
    assert status.idle_exit == idle
    lease = new_lease(storage)
    time.sleep(idle + 1.5)
    assert running_receiver(storage) == status, "a leased receiver stays"
    lease.unlink()
    deadline = time.monotonic() + idle + 10
    while running_receiver(storage) is not None or lock_is_held(storage):
        assert time.monotonic() < deadline, "the idle receiver did not leave"
        time.sleep(0.1)
