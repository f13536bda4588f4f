"""Benchmark: retrieval throughput of each transport against DCMTK, and C-FIND on a capped PACS.

Run from the repository root (``make bench-retrieve`` or
``.venv/bin/python -m bench.retrieve``; ``--json`` prints one JSON line per
row). One local Orthanc with its DICOMweb plugin holds ``--studies`` studies
of ``--instances`` instances, in two sizes: ``large`` (512x512 16-bit CT,
~0.5 MB) and ``tiny`` (16x16). For each size, in one run:

  (m) DCMTK ``movescu -> storescp``, one association, one C-MOVE per study
      (1 at once); (m2) two movescu processes on halves of the studies into
      ``storescp --fork`` (2 at once). The baseline every ratio divides by.
  transfer: pacsflow's transfer functions alone (no database), studies in
      1 or 2 threads as the flow runs them: ``move_study`` into pacsflow's
      receiver service (its storage SCP in one process per core, as runs use
      it) and, for contrast, into a storage SCP in the sending process (as
      before the receiver service); ``get_study`` (C-GET),
      ``retrieve_study_wado`` (WADO-RS).
  +ingest: ``pacsflow move --transport T --concurrency N`` into a fresh
      SQLite database, timed by the flow itself (pick, SCP start, Prefect
      task bookkeeping, the ingest and completeness included); the ingest
      runs in threads beside the transfers, and with ``--ingest-workers 1``
      / ``2`` in processes.

Each row gives instances/s, MB/s, client CPU seconds per 100 instances
(user + system of pacsflow's or DCMTK's processes; Orthanc's own CPU is not
counted; the receiver service's processes are) and the ratio to (m) or (m2)
at the same concurrency. Targets (large): c-move transfer >= 0.8x at 2 and
>= 0.7x at 1, with ingest >= 0.6x at 2 (issue 16); dicomweb transfer >= 1.2x
at 1, with ingest >= 0.9x; c-get transfer >= 0.6x at 2 (issue 15); CPU per
100 instances within 2x of DCMTK's.

C-FIND: a year of studies (``--year-studies``, weekdays busier than
weekends) on a second Orthanc capped at ``--cap`` answers. pacsflow's
find_studies must find every study exactly once, in at most 2 x the minimal
number of queries, ceil(studies / (cap - 1)). ``--no-find`` skips it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
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
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.wado import retrieve_study_wado
from pacsflow.net.find import find_studies
from pacsflow.net.get import get_study
from pacsflow.net.move import move_study
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.receiver_files import running_receiver
from pacsflow.net.receiver_lease import ensure_receiver, stop_receiver
from pacsflow.net.storage import StorageSCP
from pacsflow.net.storage_files import prepare_storage
from pacsflow.peers.dcmtk import require
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.peers.prefect_server import start_prefect_server

REPO = Path(__file__).resolve().parents[1]
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
SIZES = {"large": 512, "tiny": 16}


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
    """CPU seconds of the receiver serving ``storage`` (supervisor and workers), 0 if none."""
    status = running_receiver(storage.resolve())
    if status is None:
        return 0.0
    total = 0
    for pid in (status.pid, *status.workers):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


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
        env=DCMTK_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
                env=DCMTK_ENV,
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
        env=DCMTK_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def measure_size(
    size: str,
    orthanc: OrthancServer,
    uids: list[str],
    workdir: Path,
    env: dict[str, str],
    ports: dict[str, int],
) -> list[Row]:
    """Every row of one instance size."""
    local = LocalAE("PACSFLOW", ports["PACSFLOW"])
    dimse = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    storage = workdir / f"transfer-{size}"
    rows = [run_dcmtk(orthanc, uids, workdir, ports["STORESCP"], n, size) for n in (1, 2)]

    def by_c_move(uid: str) -> object:
        return move_study(local, dimse, uid, local.ae_title)

    def to_storescp(uid: str) -> object:
        return move_study(local, dimse, uid, "STORESCP")

    def by_c_get(uid: str) -> object:
        return get_study(local, dimse, uid, storage, sop_classes=["1.2.840.10008.5.1.4.1.1.2"])

    def by_wado(uid: str) -> object:
        with DicomWebClient(orthanc.dicomweb_url) as client:
            return retrieve_study_wado(client, storage, uid)

    for at_once in (1, 2):
        with StorageSCP(local, storage, [orthanc.ae_title], max_associations=4):
            rows.append(
                run_transfer(
                    "transfer c-move, SCP in-process", size, at_once, uids, storage, by_c_move
                )
            )
        ensure_receiver(local, storage, orthanc.ae_title)
        rows.append(run_transfer("transfer c-move", size, at_once, uids, storage, by_c_move))
        stop_receiver(storage)
        rows.append(run_into_storescp(size, at_once, uids, workdir, ports["STORESCP"], to_storescp))
        rows.append(run_transfer("transfer c-get", size, at_once, uids, storage, by_c_get))
        rows.append(run_transfer("transfer dicomweb", size, at_once, uids, storage, by_wado))
    date = "2024-03-01" if size == "large" else "2024-03-02"
    for transport in ("c-move", "c-get", "dicomweb"):
        for at_once in (1, 2):
            rows.append(
                run_flow(size, transport, at_once, orthanc, env, workdir, ports["PACSFLOW"], date)
            )
    for workers in (1, 2):  # ingest in processes instead of threads
        rows.append(
            run_flow(size, "dicomweb", 1, orthanc, env, workdir, ports["PACSFLOW"], date, workers)
        )
    baseline = {row.at_once: row for row in rows if row.label.startswith("(m")}
    for row in rows:
        row.ratio = row.rate / baseline[row.at_once].rate
    return rows


def year_of_studies(orthanc: OrthancServer, folder: Path, total: int) -> int:
    """Upload ``total`` one-instance studies over 2024, weekdays 5 x as busy as weekends."""
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in range(366)]
    weights = [1 if day.weekday() >= 5 else 5 for day in days]
    per_weight = total / sum(weights)
    uploaded = 0
    carry = 0.0
    for day, weight in zip(days, weights, strict=True):
        carry += weight * per_weight
        count = int(carry) if day != days[-1] else total - uploaded
        carry -= count
        for i in range(count):
            ds = make_realistic_ct(
                StudyDate=f"{day:%Y%m%d}",
                StudyTime=f"{(7 + i) % 24:02d}{(i * 7) % 60:02d}00",
                PatientID=f"YEAR{uploaded:05d}",
            )
            orthanc.upload(write_dataset(ds, folder / "year.dcm").read_bytes())
            uploaded += 1
    return uploaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=10)
    parser.add_argument("--instances", type=int, default=40, help="instances per study")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["large", "tiny"])
    parser.add_argument("--year-studies", type=int, default=2000)
    parser.add_argument("--cap", type=int, default=100, help="the capped PACS's answer limit")
    parser.add_argument("--no-find", action="store_true", help="skip the C-FIND measure")
    parser.add_argument("--json", action="store_true", help="one JSON line per row")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pacsflow-bench-retrieve-"))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR",
           "PACSFLOW_RECEIVER_IDLE_EXIT": "300"}  # fmt: skip
    ports = {"PACSFLOW": free_port(), "STORESCP": free_port(), "MOVESCU": free_port()}
    orthanc = OrthancServer({aet: ("127.0.0.1", port) for aet, port in ports.items()},
                            dicomweb=True).start()  # fmt: skip
    capped = OrthancServer({"PACSFLOW": ("127.0.0.1", free_port())}, limit_find_results=args.cap)
    server = start_prefect_server(env, workdir)
    rows: list[Row] = []
    found = None
    try:
        for size in args.sizes:
            uids = load_studies(orthanc, workdir, args.studies, args.instances, SIZES[size])
            rows += measure_size(size, orthanc, uids, workdir, env, ports)
        if not args.no_find:
            capped.start()
            year_total = year_of_studies(capped, workdir, args.year_studies)
            started = time.perf_counter()
            found = find_studies(
                LocalAE("PACSFLOW"),
                PacsNode(capped.ae_title, "127.0.0.1", capped.dicom_port),
                dt.date(2024, 1, 1),
                dt.date(2024, 12, 31),
                cap=args.cap,
            )
            find_seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        orthanc.stop()
        capped.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        for row in rows:
            print(json.dumps(row.as_dict()))
    else:
        print(f"\nRetrieval: {args.studies} studies x {args.instances} instances, "
              f"{os.cpu_count()} cores; x DCMTK = instances/s over (m) at 1 at once, "
              "(m2) at 2\n")  # fmt: skip
        print(f"{'size':<6} {'row':<36} {'at once':>7} {'inst':>5} {'s':>6} {'inst/s':>7} "
              f"{'MB/s':>6} {'CPU/100':>7} {'x DCMTK':>7}")  # fmt: skip
        for row in rows:
            d = row.as_dict()
            print(f"{row.size:<6} {row.label:<36} {row.at_once:>7} {row.instances:>5} "
                  f"{row.seconds:>6.2f} {row.rate:>7.0f} {d['mb_per_s']:>6} "
                  f"{d['cpu_s_per_100']:>7} {row.ratio:>7.2f}")  # fmt: skip
    if found is not None:
        uids_found = [str(s.StudyInstanceUID) for s in found.studies]
        minimal = math.ceil(year_total / (args.cap - 1))
        line = {
            "find_studies": len(set(uids_found)),
            "year_studies": year_total,
            "duplicates": len(uids_found) - len(set(uids_found)),
            "queries": found.queries,
            "minimal_queries": minimal,
            "seconds": round(find_seconds, 1),
            "windows_still_capped": len(found.incomplete_windows),
        }
        print(json.dumps(line) if args.json else f"\nC-FIND of 2024 capped at {args.cap}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
