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
at the same concurrency. Targets (large): c-move transfer >= 0.8x at 1 and
>= 1.0x at 2, with ingest >= 0.6x at 2, CPU per 100 instances within 1.5x
of DCMTK's (issue 28, the compiled receiver); dicomweb transfer >= 1.2x
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
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.retrieve_runs import (
    Row,
    load_studies,
    run_dcmtk,
    run_flow,
    run_into_storescp,
    run_transfer,
)
from pacsflow.demo.synthetic import make_realistic_ct, write_dataset
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.wado import retrieve_study_wado
from pacsflow.net.find import find_studies
from pacsflow.net.get import get_study
from pacsflow.net.move import move_study
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.receiver_lease import ensure_receiver, stop_receiver
from pacsflow.net.storage import StorageSCP
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.peers.prefect_server import start_prefect_server

SIZES = {"large": 512, "tiny": 16}


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
