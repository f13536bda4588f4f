"""Benchmark: the find phase of a cohort, items per second, against DCMTK's findscu.

Run from the repository root (``make bench-cohort`` or
``.venv/bin/python -m bench.cohort``). A local Orthanc holds ``--items``
studies of one tiny instance each, every one with its own AccessionNumber;
the cohort file lists those accession numbers, plus ``--missing`` items the
PACS does not hold. In one run it measures:

  (p) pacsflow's find phase as the cohort flow's find task runs it, without
      Prefect (``find_and_record_items``): the items read from the database,
      one association, one exact-key C-FIND per item, then the answers
      recorded in ``studies_find`` and linked to their items in a fresh
      SQLite database;
  (q) the same C-FINDs without the database (pacsflow's network part alone);
  (d) DCMTK's findscu sending the same queries, all on one association
      (one query file per item, TCP_NODELAY as in bench.retrieve), timed as
      a process.
  Each is run ``--rounds`` times, alternating, and the best round is kept.
  Target: (p) >= 50 items/s. Every item must be found exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from pydicom.dataset import Dataset
from sqlalchemy import func, select

from pacsflow.cohorts.bookkeeping import find_and_record_items, record_cohort
from pacsflow.cohorts.cohort_file import read_cohort_file
from pacsflow.cohorts.find import find_cohort_items, item_query
from pacsflow.database.engine import make_engine
from pacsflow.database.models import CohortStudy
from pacsflow.database.schema import initialize_database
from pacsflow.database.session import session_scope
from pacsflow.demo.synthetic import make_dataset, write_dataset
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.peers.dcmtk import require
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port

TARGET_ITEMS_PER_S = 50.0


def load(orthanc: OrthancServer, folder: Path, items: int) -> None:
    """One study of one tiny instance per accession number BENCH000001..."""
    for n in range(1, items + 1):
        ds = make_dataset(AccessionNumber=f"BENCH{n:06d}", PatientID=f"BP{n:06d}", Rows=8)
        ds.Columns = 8
        ds.PixelData = bytes(8 * 8 * 2)
        orthanc.upload(write_dataset(ds, folder / "one.dcm").read_bytes())


def cohort_csv(folder: Path, items: int, missing: int) -> Path:
    path = folder / "bench-cohort.csv"
    rows = [f"BENCH{n:06d}" for n in range(1, items + 1)]
    rows += [f"NOPE{n:06d}" for n in range(missing)]
    path.write_text("AccessionNumber\n" + "\n".join(rows) + "\n")
    return path


def run_pacsflow(pacs: PacsNode, cohort: Path, folder: Path, with_db: bool) -> tuple[float, int]:
    """Seconds for the find phase, and the items linked to a study (or matched)."""
    items = read_cohort_file(cohort)
    url = f"sqlite:///{folder / f'bench-{time.monotonic_ns()}.sqlite'}"
    initialize_database(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            recorded = record_cohort(session, "bench", items)
        if not with_db:
            started = time.perf_counter()
            finds = find_cohort_items(LocalAE(), pacs, items)
            return time.perf_counter() - started, sum(1 for f in finds if f.studies)
        seconds = find_and_record_items(engine, LocalAE(), pacs, recorded).seconds
        with session_scope(engine) as session:
            linked = session.scalar(select(func.count()).select_from(CohortStudy)) or 0
        return seconds, linked
    finally:
        engine.dispose()


def run_findscu(pacs: PacsNode, cohort: Path, folder: Path) -> tuple[float, int]:
    """findscu with one query file per item, all on one association."""
    queries = folder / "queries"
    queries.mkdir(exist_ok=True)
    paths = []
    for item in read_cohort_file(cohort):
        query: Dataset = item_query(item)
        path = queries / f"q{item.row:06d}.dcm"
        query.save_as(path, implicit_vr=True, little_endian=True)
        paths.append(str(path))
    started = time.perf_counter()
    done = subprocess.run(
        [require("findscu"), "-S", "-aet", "PACSFLOW", "-aec", pacs.ae_title,
         pacs.host, str(pacs.port), *paths],
        capture_output=True, text=True, check=False, env={**os.environ, "TCP_NODELAY": "1"},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"findscu failed: {done.stderr[-2000:]}")
    answers = done.stderr.count("Find Response:") + done.stdout.count("Find Response:")
    return seconds, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="items on the PACS (1000)")
    parser.add_argument("--missing", type=int, default=50, help="items not on the PACS (50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, best kept (3)")
    args = parser.parse_args()
    total = args.items + args.missing
    with tempfile.TemporaryDirectory(prefix="pacsflow-bench-cohort-") as tmp:
        folder = Path(tmp)
        orthanc = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", free_port())}).start()
        try:
            print(f"Loading {args.items} studies into Orthanc ...", flush=True)
            load(orthanc, folder, args.items)
            pacs = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
            cohort = cohort_csv(folder, args.items, args.missing)
            best = {"pacsflow": float("inf"), "network only": float("inf"), "findscu": float("inf")}
            for _ in range(args.rounds):
                seconds, linked = run_pacsflow(pacs, cohort, folder, with_db=True)
                assert linked == args.items, f"{linked} items linked, not {args.items}"
                best["pacsflow"] = min(best["pacsflow"], seconds)
                seconds, matched = run_pacsflow(pacs, cohort, folder, with_db=False)
                assert matched == args.items, f"{matched} items matched, not {args.items}"
                best["network only"] = min(best["network only"], seconds)
                seconds, _ = run_findscu(pacs, cohort, folder)
                best["findscu"] = min(best["findscu"], seconds)
        finally:
            orthanc.stop()
    rates = {name: total / seconds for name, seconds in best.items()}
    print(
        f"\nFind phase of a {total}-item accession-number cohort ({args.missing} not on the PACS):"
    )
    for name, seconds in best.items():
        print(f"  {name:<13} {seconds:6.2f} s  {rates[name]:7.1f} items/s")
    ratio = rates["pacsflow"] / rates["findscu"]
    verdict = "met" if rates["pacsflow"] >= TARGET_ITEMS_PER_S else "MISSED"
    print(f"  pacsflow / findscu: {ratio:.2f}x (DCMTK with TCP_NODELAY, as in bench.retrieve)")
    print(f"  target >= {TARGET_ITEMS_PER_S:.0f} items/s: {verdict}")
    print(json.dumps({"items": total, "items_per_second": rates, "ratio_to_findscu": ratio}))


if __name__ == "__main__":
    main()
