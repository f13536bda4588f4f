"""The runs bench.retrieve measures: DCMTK's baseline, the transfer functions alone, the flow.

Each returns a :class:`Row` (instances, megabytes, seconds, CPU seconds).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from pacsflow.database.schema import initialize_database
from pacsflow.demo.synthetic import make_realistic_ct, write_dataset
from pacsflow.net.receiver_files import running_receiver
from pacsflow.net.receiver_lease import stop_receiver
from pacsflow.net.storage_files import prepare_storage
from pacsflow.peers.dcmtk import require
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.processes import no_nagle_env

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One measured retrieval."""

    size: str
    label: str
    at_once: int
    instances: int
    megabytes: float
    seconds: float
    cpu_seconds: float
    ratio: float = 0.0

    @property
    def rate(self) -> float:
        return self.instances / self.seconds

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "instances_per_s": round(self.rate, 1),
            "mb_per_s": round(self.megabytes / self.seconds, 1),
            "cpu_s_per_100": round(100 * self.cpu_seconds / max(self.instances, 1), 3),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _receiver_cpu(storage: Path) -> float:
    """CPU seconds of the receiver serving ``storage``, 0 if none: supervisor and workers,
    and the compiled engine's programs (one per association, children of the workers),
    ended and reaped or still running."""
    status = running_receiver(storage.resolve())
    if status is None:
        return 0.0
    total = 0
    for pid in (status.pid, *status.workers):
        total += _ticks(pid, reaped_children=True)
        try:
            running = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            running = []
        total += sum(_ticks(int(child), reaped_children=False) for child in running)
    return total / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int, *, reaped_children: bool) -> int:
    """utime + stime of ``pid`` (and cutime + cstime: its reaped children's), 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if reaped_children else 0)


def _folder_size(folder: Path) -> tuple[int, float]:
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and ".incoming" not in p.parts and ".receiver" not in p.parts
    ]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def load_studies(
    orthanc: OrthancServer, folder: Path, studies: int, instances: int, matrix: int
) -> list[str]:
    """Upload the benchmark studies (two series each); their StudyInstanceUIDs."""
    uids: list[str] = []
    pixels = bytes(range(256)) * (matrix * matrix * 2 // 256)
    for s in range(studies):
        study_uid = generate_uid()
        series = [generate_uid(), generate_uid()]
        for i in range(instances):
            ds = make_realistic_ct(
                StudyInstanceUID=study_uid,
                SeriesInstanceUID=series[i % 2],
                StudyDate="20240301" if matrix > 16 else "20240302",
                PatientID=f"BENCH{matrix}-{s:04d}",
                Rows=matrix,
                Columns=matrix,
            )
            ds.PixelData = pixels
            orthanc.upload(write_dataset(ds, folder / "upload.dcm").read_bytes())
        uids.append(str(study_uid))
    return uids


def _queries(uids: list[str], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, uid in enumerate(uids):
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = uid
        paths.append(str(write_dataset(query, folder / f"q{n}.dcm")))
    return paths


def run_dcmtk(
    orthanc: OrthancServer, uids: list[str], workdir: Path, port: int, at_once: int, size: str
) -> Row:
    """(m)/(m2): storescp receives; ``at_once`` movescu processes share the studies."""
    received = workdir / f"storescp-{size}-{at_once}"
    shutil.rmtree(received, ignore_errors=True)
    received.mkdir()
    fork = ["--fork"] if at_once > 1 else []
    cpu = _children_cpu()
    storescp = subprocess.Popen(
        [require("storescp"), *fork, "-aet", "STORESCP", "-od", str(received), str(port)],
        env=no_nagle_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # let storescp bind
        parts = [_queries(uids[i::at_once], workdir / f"q-{size}-{i}") for i in range(at_once)]
        started = time.perf_counter()
        movescu = [require("movescu"), "-S", "-aet", "MOVESCU", "-aec", orthanc.ae_title,
                   "-aem", "STORESCP", "127.0.0.1", str(orthanc.dicom_port)]  # fmt: skip
        movers = [
            subprocess.Popen(
                [*movescu, *queries],
                env=no_nagle_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for queries in parts
        ]
        for mover in movers:
            _, err = mover.communicate()
            if mover.returncode != 0:
                raise RuntimeError(f"movescu failed ({mover.returncode}): {err[:800]!r}")
        seconds = time.perf_counter() - started
    finally:
        storescp.terminate()
        storescp.wait(timeout=20)
    files, megabytes = _folder_size(received)
    label = "(m)  movescu -> storescp" if at_once == 1 else "(m2) movescu x2 -> storescp --fork"
    return Row(size, label, at_once, files, megabytes, seconds, _children_cpu() - cpu)


def run_transfer(
    label: str,
    size: str,
    at_once: int,
    uids: list[str],
    storage: Path,
    transfer: Callable[[str], object],
) -> Row:
    """Transfer every study with ``transfer(uid)`` in ``at_once`` threads; no database."""
    if storage.is_dir():  # emptied, but the folder of a receiver serving it stays
        for child in storage.iterdir():
            if child.name != ".receiver":
                shutil.rmtree(child)
    prepare_storage(storage)
    queue = list(uids)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                uid = queue.pop()
            transfer(uid)

    cpu = _own_cpu() + _receiver_cpu(storage)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    files, megabytes = _folder_size(storage)
    cpu = _own_cpu() + _receiver_cpu(storage) - cpu
    return Row(size, label, at_once, files, megabytes, seconds, cpu)


def run_into_storescp(
    size: str,
    at_once: int,
    uids: list[str],
    workdir: Path,
    port: int,
    move: Callable[[str], object],
) -> Row:
    """Reference: pacsflow's C-MOVE (``move``) with DCMTK's storescp receiving, which
    tells the receiver's share of the gap to DCMTK from the requesting side's."""
    received = workdir / f"into-storescp-{size}-{at_once}"
    received.mkdir(parents=True, exist_ok=True)
    fork = ["--fork"] if at_once > 1 else []
    storescp = subprocess.Popen(
        [require("storescp"), *fork, "-aet", "STORESCP", "-od", str(received), str(port)],
        env=no_nagle_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    cpu = _children_cpu()
    try:
        time.sleep(0.5)  # let storescp bind
        row = run_transfer("reference: c-move -> storescp", size, at_once, uids, received, move)
    finally:
        storescp.terminate()
        storescp.wait(timeout=20)
    row.cpu_seconds += _children_cpu() - cpu
    shutil.rmtree(received, ignore_errors=True)
    return row


def run_flow(
    size: str,
    transport: str,
    at_once: int,
    orthanc: OrthancServer,
    env: dict[str, str],
    workdir: Path,
    port: int,
    date: str,
    ingest_workers: int = 0,
) -> Row:
    """+ingest: find the studies (not timed), then ``pacsflow move`` into a fresh SQLite."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    url = f"sqlite:///{run_dir / 'bench.sqlite'}"
    initialize_database(url)
    node = ["--pacs-aet", orthanc.ae_title, "--pacs-host", "127.0.0.1",
            "--pacs-port", str(orthanc.dicom_port), "--transport", transport,
            "--dicomweb-url", orthanc.dicomweb_url]  # fmt: skip
    cli = [sys.executable, "-m", "flows.cli", "--db", url]
    subprocess.run([*cli, "find", date, *node], env=env, cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    cpu = _children_cpu()
    done = subprocess.run(
        [*cli, "move", *node, "--local-port", str(port), "--storage", str(run_dir / "storage"),
         "--concurrency", str(at_once), "--ingest-workers", str(ingest_workers),
         "--no-progress", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    cpu = _children_cpu() - cpu + _receiver_cpu(run_dir / "storage")
    stop_receiver(run_dir / "storage")
    label = f"+ingest {transport}" + (f", {ingest_workers} ingest procs" if ingest_workers else "")
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["studies_complete"] != result["studies_picked"]:
        raise RuntimeError(f"{label}: incomplete studies: {result['incomplete']}")
    _, megabytes = _folder_size(run_dir / "storage")
    shutil.rmtree(run_dir, ignore_errors=True)
    return Row(size, label, at_once, result["images_added"], megabytes, result["seconds"], cpu)
