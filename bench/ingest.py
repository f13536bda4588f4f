"""Benchmark: ingest throughput against the speed of pydicom itself, and peak memory.

Run from the repository root (``make bench-ingest`` or
``.venv/bin/python -m bench.ingest --files 20000``). In one run it measures,
on the same folder of synthetic CT files with a realistic header (~250
elements, private tags, sequences):

  (a)  the limit: a bare loop of dcmread(stop_before_pixels=True) +
       Dataset.to_json_dict, no database, one process;
  (a') the same loop with pacsflow's JSON encoder instead of to_json_dict;
  (b)  ``pacsflow ingest`` into SQLite with one worker process;
  (c)  the same with one worker per core;
  (d)  into PostgreSQL with one worker per core;
  (p)  pacsanini 0.2.1's parse_dir2sql, with --pacsanini-python.

Each ingest runs as the CLI does, in a fresh process against a Prefect server
started once for the benchmark, so the figures exclude the server's start but
include spawning the workers. Files/s come from the flow's own timing; peak RSS
is sampled from /proc over the process and its workers (largest single
process, and the sum). Prefect's share is the wall time not spent inside the
batches (walking the folder, worker start-up, task and flow bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread

from pacsflow.demo.synthetic import make_realistic_ct, write_dataset
from pacsflow.dicom.header_json import dataset_to_json
from pacsflow.ingest.batch import DEFAULT_BATCH_SIZE
from tests.peers.prefect_server import start_prefect_server

REPO = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measure:
    """One line of the report."""

    label: str
    files: int
    seconds: float
    peak_rss_mb: float = 0.0
    peak_tree_mb: float = 0.0
    prefect_share: float | None = None

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


def make_corpus(folder: Path, n_files: int) -> None:
    """Write ``n_files`` synthetic CT files: patients of 3 studies of 2 series of 10 images."""
    marker = folder.parent / f"{folder.name}.complete"  # outside: the walk would count it
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    for i in range(n_files):
        study, image = divmod(i, 20)
        series = image // 10
        ds = make_realistic_ct(
            PatientID=f"BENCH{study // 3:06d}",
            PatientName=f"Bench^Patient{study // 3:06d}",
            StudyInstanceUID=f"1.2.826.0.1.3680043.9.7777.{study}",
            SeriesInstanceUID=f"1.2.826.0.1.3680043.9.7777.{study}.{series}",
            InstanceNumber=str(image + 1),
        )
        write_dataset(ds, folder / f"{study:06d}" / f"{series}" / f"{image:02d}.dcm")
    marker.write_text("")
    print(f"wrote {n_files} files in {time.perf_counter() - started:.0f} s to {folder}")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.dcm"))


def bare_loop(paths: list[Path], *, fast: bool) -> Measure:
    """(a)/(a'): read and encode every file in this process; no database."""
    started = time.perf_counter()
    for path in paths:
        ds = dcmread(path, stop_before_pixels=True)
        if fast:
            dataset_to_json(ds)
        else:
            ds.to_json_dict()
    label = "(a') dcmread + pacsflow encoder" if fast else "(a)  dcmread + to_json_dict"
    return Measure(label, len(paths), time.perf_counter() - started)


def _tree_rss(root_pid: int) -> tuple[int, int]:
    """(largest single RSS, sum of RSS) in bytes over ``root_pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    todo, tree = [root_pid], []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    sizes = [rss.get(pid, 0) for pid in tree]
    return max(sizes, default=0), sum(sizes)


def run_ingest(
    label: str, folder: Path, db_url: str, workers: int, env: dict[str, str], batch_size: int
) -> Measure:
    """Run ``pacsflow ingest`` in a fresh process; time it from the flow, sample its memory."""
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "--db",
        db_url,
        "ingest",
        str(folder),
        "--workers",
        str(workers),
        "--batch-size",
        str(batch_size),
        "--no-progress",
        "--allow-failures",
        "--json",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO, text=True
    )
    peaks = [0, 0]

    def sample() -> None:
        while process.poll() is None:
            largest, total = _tree_rss(process.pid)
            peaks[0], peaks[1] = max(peaks[0], largest), max(peaks[1], total)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{label} failed ({process.returncode}): {err.strip()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    share = 1.0 - result["batch_seconds"] / (workers * result["seconds"])
    return Measure(
        label, result["files_seen"], result["seconds"], peaks[0] / 2**20, peaks[1] / 2**20, share
    )


def run_pacsanini(python: str, folder: Path, workdir: Path) -> Measure:
    """(p): pacsanini 0.2.1's parse_dir2sql into SQLite, one thread, in its own interpreter."""
    db = workdir / "pacsanini.sqlite"
    script = (
        "import time, sys\n"
        "from pacsanini.db.parser import parse_dir2sql\n"
        "t = time.perf_counter()\n"
        f"parse_dir2sql({str(folder)!r}, 'sqlite:///{db}', nb_threads=1, create_tables=True)\n"
        "print(time.perf_counter() - t)\n"
    )
    result = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, check=True, cwd=workdir
    )
    seconds = float(result.stdout.strip().splitlines()[-1])
    return Measure("(p)  pacsanini 0.2.1 parse_dir2sql", len(_files(folder)), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000, help="files in the corpus (20000)")
    parser.add_argument("--folder", type=Path, default=None, help="corpus folder (kept for reuse)")
    parser.add_argument(
        "--limit-sample",
        type=int,
        default=2000,
        help="files timed for (a) and (a'): per-file rates, no need for all",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="files per task")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--pacsanini-python", default=None, help="interpreter with pacsanini 0.2.1")
    parser.add_argument(
        "--pacsanini-files", type=int, default=2000, help="files for pacsanini's run (it is slow)"
    )
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    folder = args.folder or Path(tempfile.gettempdir()) / f"pacsflow-bench-{args.files}"
    make_corpus(folder, args.files)
    paths = _files(folder)
    workdir = Path(tempfile.mkdtemp(prefix="pacsflow-bench-"))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    measures: list[Measure] = []
    server = start_prefect_server(env, workdir)
    postgres = None
    try:
        sample = paths[: args.limit_sample]
        limit = bare_loop(sample, fast=False)
        measures += [limit, bare_loop(sample, fast=True)]
        measures.append(
            run_ingest(
                "(b)  ingest, SQLite, 1 worker",
                folder,
                f"sqlite:///{workdir / 'b.sqlite'}",
                1,
                env,
                args.batch_size,
            )
        )
        measures.append(
            run_ingest(
                f"(c)  ingest, SQLite, {cores} workers",
                folder,
                f"sqlite:///{workdir / 'c.sqlite'}",
                cores,
                env,
                args.batch_size,
            )
        )
        if not args.skip_postgres:
            from tests.peers.postgres import PostgresServer

            postgres = PostgresServer().start()
            measures.append(
                run_ingest(
                    f"(d)  ingest, PostgreSQL, {cores} workers",
                    folder,
                    postgres.url("bench"),
                    cores,
                    env,
                    args.batch_size,
                )
            )
        if args.pacsanini_python:
            subset = workdir / "pacsanini-subset"
            for path in paths[: args.pacsanini_files]:
                target = subset / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(path)
            measures.append(run_pacsanini(args.pacsanini_python, subset, workdir))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{len(paths)} files, {cores} cores; (a)/(a') timed on {len(sample)} files\n")
    print(
        f"{'measure':<40} {'files':>7} {'s':>8} {'files/s':>8} {'x (a)':>6} "
        f"{'RSS MB':>7} {'tree MB':>8} {'Prefect':>8}"
    )
    for m in measures:
        share = f"{m.prefect_share:.1%}" if m.prefect_share is not None else ""
        rss = f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb else ""
        tree = f"{m.peak_tree_mb:.0f}" if m.peak_tree_mb else ""
        print(
            f"{m.label:<40} {m.files:>7} {m.seconds:>8.1f} {m.rate:>8.0f} "
            f"{m.rate / limit.rate:>6.2f} {rss:>7} {tree:>8} {share:>8}"
        )
    pacsanini = next((m for m in measures if m.label.startswith("(p)")), None)
    if pacsanini is not None:
        best = max(m.rate for m in measures if m.label[:3] in ("(b)", "(c)", "(d)"))
        print(f"\nbest pacsflow ingest / pacsanini: {best / pacsanini.rate:.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
