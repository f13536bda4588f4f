"""Benchmark: a pseudonymised export, instances/s, against the Annex E library's own command line.

Run from the repository root (``make bench-export`` or
``.venv/bin/python -m bench.export``). ``--instances`` CT instances of
512x512 16-bit pixels (~0.5 MB each), spread over ``--studies`` studies of
``--patients`` patients, are written to one flat folder and ingested into a
fresh SQLite database (not timed). In one run it measures, each as a
process started from the shell as a user would:

  (l) ``dicom-anonymizer SOURCE OUT``: the command line of the library whose
      PS3.15 Annex E table pacsflow applies (one file after another);
  (p1) ``pacsflow export OUT --pseudonymise --workers 1``;
  (p2) ``pacsflow export OUT --pseudonymise --workers 2`` (worker processes);
  (b1), (b2) with ``--before TREE``: the same two from another source tree
      (e.g. main, ``git archive main | tar -x -C /tmp/before``).

pacsflow is started like its console script (:mod:`bench.cli_runs`).

pacsflow's runs also write the tables (with the header JSON), the manifest
and the linkage; the library writes the files only. Each is run ``--rounds``
times, alternating, and the best round is kept. Target: (p2) >= 1.5x (l).
A Prefect server is started first and shared, as on a worker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cli_runs import run_pacsflow
from pacsflow.database.engine import make_engine
from pacsflow.database.schema import initialize_database
from pacsflow.demo.synthetic import make_dataset, write_dataset
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.peers.prefect_server import start_prefect_server

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
SIDE = 512


def write_source(folder: Path, instances: int, studies: int, patients: int) -> None:
    """``instances`` CT files in one flat folder (the library's command line reads no others)."""
    folder.mkdir(parents=True)
    pixels = bytes(range(256)) * (SIDE * SIDE * 2 // 256)
    per_study = max(1, instances // studies)
    study_uids: dict[int, dict[str, str]] = {}
    for n in range(instances):
        s = min(n // per_study, studies - 1)
        common = study_uids.setdefault(s, {})
        ds = make_dataset(
            PatientID=f"BENCH-P{s % patients:04d}",
            PatientName=f"Bench^Patient{s % patients}",
            StudyDate=f"2024{1 + s % 12:02d}{1 + s % 28:02d}",
            InstanceNumber=str(n + 1),
            Rows=SIDE,
            Columns=SIDE,
            PixelData=pixels,
            **common,
        )
        common.setdefault("StudyInstanceUID", ds.StudyInstanceUID)
        common.setdefault("SeriesInstanceUID", ds.SeriesInstanceUID)
        write_dataset(ds, folder / f"{n:06d}.dcm")


def timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds the command took; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--studies", type=int, default=10)
    parser.add_argument("--patients", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="one JSON line of results")
    parser.add_argument("--before", type=Path, default=None, help="another source tree to compare")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pacsflow-bench-export-"))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR",
           "PACSFLOW_PSEUDONYM_KEY": "bench-key-" + os.urandom(16).hex()}  # fmt: skip
    server = start_prefect_server(env, workdir)
    try:
        source = workdir / "source"
        write_source(source, args.instances, args.studies, args.patients)
        url = f"sqlite:///{workdir / 'bench.sqlite'}"
        initialize_database(url)
        engine = make_engine(url)
        try:
            ingest_folder(engine, source, institution=None)
        finally:
            engine.dispose()
        library = str(Path(sys.executable).with_name("dicom-anonymizer"))
        runs: list[tuple[str, int, Path | None]] = [
            ("l", 0, None),
            ("p1", 1, None),
            ("p2", 2, None),
        ]
        if args.before:
            runs += [("b1", 1, args.before), ("b2", 2, args.before)]
        best: dict[str, float] = {}
        for round_number in range(args.rounds):
            for label, workers, tree in runs:
                out = workdir / f"out-{label}-{round_number}"
                out.mkdir()
                if workers == 0:
                    seconds = timed([library, str(source), str(out)], env)
                else:
                    command = ["--db", url, "export", str(out), "--pseudonymise",
                               "--workers", str(workers), "--no-progress"]  # fmt: skip
                    seconds = run_pacsflow(command, env, workdir, tree).seconds
                exported = sum(1 for p in out.rglob("*.dcm"))
                if exported != args.instances:
                    raise RuntimeError(f"({label}) wrote {exported} of {args.instances} files")
                best[label] = min(best.get(label, seconds), seconds)
                shutil.rmtree(out)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    rates = {label: args.instances / seconds for label, seconds in best.items()}
    ratio = rates["p2"] / rates["l"]
    result = {
        "instances": args.instances,
        "cores": os.cpu_count(),
        "seconds": {k: round(v, 2) for k, v in best.items()},
        "instances_per_s": {k: round(v, 1) for k, v in rates.items()},
        "p1_over_library": round(rates["p1"] / rates["l"], 2),
        "p2_over_library": round(ratio, 2),
        "target": TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"\nPseudonymised export: {args.instances} CT instances {SIDE}x{SIDE}, "
              f"{os.cpu_count()} cores, best of {args.rounds}\n")  # fmt: skip
        names = {"l": "(l) dicom-anonymizer CLI", "p1": "(p1) pacsflow export, 1 worker",
                 "p2": "(p2) pacsflow export, 2 workers", "b1": "(b1) before, 1 worker",
                 "b2": "(b2) before, 2 workers"}  # fmt: skip
        for label, name in names.items():
            if label not in best:
                continue
            print(f"{name:<34} {best[label]:>7.2f} s {rates[label]:>7.1f} inst/s "
                  f"{rates[label] / rates['l']:>5.2f}x")  # fmt: skip
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"\ntarget (p2) >= {TARGET_RATIO}x (l): {verdict} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
