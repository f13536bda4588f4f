"""Benchmark: retrieval throughput against DCMTK, and C-FIND queries against a capped PACS.

Run from the repository root (``make bench-retrieve`` or
``.venv/bin/python -m bench.retrieve``). In one run it measures:

  Retrieval, from one local Orthanc loaded with ``--studies`` studies of
  ``--instances`` instances (synthetic CT, a real scanner's header):
    (m) DCMTK movescu -> storescp: one movescu, one association, one C-MOVE
        request per study (the strongest baseline), timed as a process;
    (r) pacsflow's move-studies flow (``pacsflow move``, concurrency 1, the
        default): C-MOVE each study into pacsflow's storage SCP and ingest it
        into a fresh SQLite database, timed by the flow itself (echo, pick,
        SCP start, Prefect task bookkeeping and the ingest included);
    (r2) the same with two studies moved at once.
    (f) the floor of pacsflow's design: the same C-MOVEs (move_study, one
        study at a time, no Prefect) into pacsflow's storage SCP with a
        handler that only counts (no file, no database): pynetdicom's cost
        of two associations per study and of each C-STORE.
  Each is run ``--rounds`` times, alternating, and the best round is kept
  (the machine is small and noisy). Target: (r) >= 0.8 x (m) instances/s.

  C-FIND: a year of studies (``--year-studies``, weekdays busier than
  weekends) on a second Orthanc capped at ``--cap`` answers. pacsflow's
  find_studies must find every study exactly once, in at most 2 x the
  minimal number of queries, ceil(studies / (cap - 1)) (an answer count equal
  to the cap cannot be told from a cut-off one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import evt

from pacsflow.database.schema import initialize_database
from pacsflow.demo.pacs import OrthancServer
from pacsflow.demo.ports import free_port
from pacsflow.demo.synthetic import make_realistic_ct, write_dataset
from pacsflow.net.find import find_studies
from pacsflow.net.move import move_study
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.storage import StorageSCP
from tests.peers.dcmtk import require
from tests.peers.prefect_server import start_prefect_server

REPO = Path(__file__).resolve().parents[1]
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


@dataclass
class Measure:
    """One retrieval run."""

    label: str
    instances: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.instances / self.seconds


def load_studies(orthanc: OrthancServer, folder: Path, studies: int, instances: int) -> list[str]:
    """Upload the benchmark studies (two series each); their StudyInstanceUIDs."""
    uids: list[str] = []
    for s in range(studies):
        study_uid = generate_uid()
        series = [generate_uid(), generate_uid()]
        for i in range(instances):
            ds = make_realistic_ct(
                StudyInstanceUID=study_uid,
                SeriesInstanceUID=series[i % 2],
                StudyDate="20240301",
                PatientID=f"BENCH{s:04d}",
            )
            orthanc.upload(write_dataset(ds, folder / "upload.dcm").read_bytes())
        uids.append(str(study_uid))
    return uids


def run_movescu(orthanc: OrthancServer, uids: list[str], workdir: Path, port: int) -> Measure:
    """(m): storescp receives, movescu asks for every study on one association."""
    queries = []
    for n, uid in enumerate(uids):
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = uid
        queries.append(write_dataset(query, workdir / "queries" / f"q{n}.dcm"))
    received = workdir / "storescp"
    shutil.rmtree(received, ignore_errors=True)
    received.mkdir()
    storescp = subprocess.Popen(
        [require("storescp"), "-aet", "STORESCP", "-od", str(received), str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)  # storescp listens at once; give it a moment to bind
        started = time.perf_counter()
        moved = subprocess.run(
            [require("movescu"), "-S", "-aet", "MOVESCU", "-aec", orthanc.ae_title,
             "-aem", "STORESCP", "127.0.0.1", str(orthanc.dicom_port), *map(str, queries)],
            env=DCMTK_ENV, check=False, capture_output=True, text=True,
        )  # fmt: skip
        if moved.returncode != 0:
            raise RuntimeError(f"movescu failed ({moved.returncode}): {moved.stderr[:800]}")
        seconds = time.perf_counter() - started
    finally:
        storescp.terminate()
        storescp.wait(timeout=20)
    files = sum(1 for p in received.iterdir() if p.is_file())
    return Measure("(m)  movescu -> storescp", files, seconds)


def run_pacsflow(
    label: str,
    orthanc: OrthancServer,
    env: dict[str, str],
    workdir: Path,
    port: int,
    concurrency: int,
) -> Measure:
    """(r): find the studies (not timed), then ``pacsflow move`` into a fresh SQLite database."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    url = f"sqlite:///{run_dir / 'bench.sqlite'}"
    initialize_database(url)
    node = ["--pacs-aet", orthanc.ae_title, "--pacs-host", "127.0.0.1",
            "--pacs-port", str(orthanc.dicom_port)]  # fmt: skip
    cli = [sys.executable, "-m", "flows.cli", "--db", url]
    subprocess.run([*cli, "find", "2024-03-01", *node], env=env, cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    done = subprocess.run(
        [*cli, "move", *node, "--local-port", str(port), "--storage", str(run_dir / "storage"),
         "--concurrency", str(concurrency), "--no-progress", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["studies_complete"] != result["studies_picked"]:
        raise RuntimeError(f"{label}: incomplete studies: {result['incomplete']}")
    return Measure(label, result["images_added"], result["seconds"])


class _CountingSCP(StorageSCP):
    """pacsflow's storage SCP with a handler that only counts: the receiving machinery alone."""

    received = 0

    def _on_c_store(self, event: evt.Event) -> int:
        self.received += 1
        return 0x0000


def run_floor(orthanc: OrthancServer, uids: list[str], port: int, workdir: Path) -> Measure:
    """(f): C-MOVE every study into the storage SCP with a handler that stores nothing."""
    local = LocalAE("PACSFLOW", port)
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    scp = _CountingSCP(local, workdir / "floor", [orthanc.ae_title])
    with scp:
        started = time.perf_counter()
        for uid in uids:
            move_study(local, node, uid, "PACSFLOW")
        seconds = time.perf_counter() - started
    return Measure("(f)  floor: SCP storing nothing", scp.received, seconds)


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
    parser.add_argument("--studies", type=int, default=50)
    parser.add_argument("--instances", type=int, default=20, help="instances per study")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each retrieval")
    parser.add_argument("--year-studies", type=int, default=2000)
    parser.add_argument("--cap", type=int, default=100, help="the capped PACS's answer limit")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pacsflow-bench-retrieve-"))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    modalities = {
        "PACSFLOW": ("127.0.0.1", free_port()),
        "STORESCP": ("127.0.0.1", free_port()),
        "MOVESCU": ("127.0.0.1", free_port()),
    }
    orthanc = OrthancServer(modalities).start()
    capped = OrthancServer({"PACSFLOW": ("127.0.0.1", free_port())}, limit_find_results=args.cap)
    server = start_prefect_server(env, workdir)
    measures: list[Measure] = []
    try:
        capped.start()
        uids = load_studies(orthanc, workdir, args.studies, args.instances)
        for _ in range(args.rounds):
            measures.append(run_movescu(orthanc, uids, workdir, modalities["STORESCP"][1]))
            for label, concurrency in (("(r)  pacsflow move, 1 at once", 1),
                                       ("(r2) pacsflow move, 2 at once", 2)):  # fmt: skip
                scp_port = modalities["PACSFLOW"][1]
                measures.append(run_pacsflow(label, orthanc, env, workdir, scp_port, concurrency))
            measures.append(run_floor(orthanc, uids, modalities["PACSFLOW"][1], workdir))
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

    total = args.studies * args.instances
    print(f"\nRetrieval: {args.studies} studies x {args.instances} instances ({total}), "
          f"{os.cpu_count()} cores, best of {args.rounds} rounds\n")  # fmt: skip
    best: dict[str, Measure] = {}
    for m in measures:
        if m.label not in best or m.rate > best[m.label].rate:
            best[m.label] = m
    baseline = best["(m)  movescu -> storescp"]
    print(f"{'measure':<34} {'instances':>9} {'s':>7} {'inst/s':>7} {'x (m)':>6}")
    for m in best.values():
        print(f"{m.label:<34} {m.instances:>9} {m.seconds:>7.2f} {m.rate:>7.0f} "
              f"{m.rate / baseline.rate:>6.2f}")  # fmt: skip
    print("all rounds: " + ", ".join(f"{m.label.split()[0]} {m.rate:.0f}/s" for m in measures))
    uids_found = [str(s.StudyInstanceUID) for s in found.studies]
    minimal = math.ceil(year_total / (args.cap - 1))
    print(
        f"\nC-FIND of 2024 on a PACS capped at {args.cap}: {len(set(uids_found))} of "
        f"{year_total} studies found ({len(uids_found) - len(set(uids_found))} duplicates), "
        f"{found.queries} queries, minimal {minimal}: {found.queries / minimal:.2f} x; "
        f"{find_seconds:.1f} s; windows still capped: {len(found.incomplete_windows)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
