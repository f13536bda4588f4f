"""Benchmark: ``pacsflow ingest``, the whole CLI call, against pydicom reading the same files.

Run from the repository root (``make bench-ingest`` or ``.venv/bin/python -m
bench.ingest``). In one run, for each corpus (default: 200 and 4,000 small
synthetic headers, 2,000 realistic 256-element CT headers):

  - the reference: one process running pydicom's ``dcmread(stop_before_pixels=True)``
    alone over the corpus;
  - ``pacsflow ingest`` on 1 and 2 workers, into SQLite and PostgreSQL, each a
    fresh process started like the console script (:mod:`bench.cli_runs`),
    timed from outside (the whole call: Python start, Prefect, the walk, the
    pool, the database), with the peak resident memory of its largest process
    (``RUSAGE_CHILDREN``, workers included) and the ratio to the reference;
  - with ``--before TREE``, the same calls from another source tree (e.g. main,
    ``git archive main | tar -x -C /tmp/before``), interleaved;
  - the start of the worker pool (:mod:`tasks.worker_pool`) in a process that
    imported Prefect: until 2 workers have answered;
  - with ``--memory``, peak RSS of an ingest of 100,000 small files vs 10,000 (slow);
  - the header-read rows of :mod:`bench.header_read` (header read + JSON per core).

A Prefect server is started once for the benchmark, as on a worker.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from sqlalchemy import create_engine, text

from bench.cli_runs import CliRun, run_pacsflow, timed_python
from bench.header_read import header_rows, table_lines
from pacsflow.demo.synthetic import make_dataset, make_realistic_ct, write_dataset
from pacsflow.peers.prefect_server import start_prefect_server

__all__ = ["main", "make_corpus"]


@dataclass
class Row:
    """One line of the report."""

    label: str
    files: int
    seconds: float
    peak_mb: float = 0.0
    left_running: int = 0

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


# The largest little-endian headers of the test files pydicom and pydicom-data ship:
# an ECG waveform (~1,250 elements in sequences), an SR, GE's CT, enhanced CT and MR
# multi-frame (functional groups), Siemens MR with overlays, a JPEG 2000 CT.
VENDOR_FILES = [
    "waveform_ecg.dcm",
    "test-SR.dcm",
    "CT_small.dcm",
    "JPEG2000_UNC.dcm",
    "OBXXXX1A_2frame.dcm",
    "eCT_Supplemental.dcm",
    "liver.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
]


def _vendor_maker() -> Callable[..., Dataset]:
    """Clones of :data:`VENDOR_FILES` in turn, pixel data left out (the ingest never reads it)."""
    import data_store
    import pydicom.data

    roots = [Path(data_store.__file__).parent, Path(pydicom.data.__file__).parent]
    found = {p.name: p for root in roots for p in root.rglob("*.dcm") if p.name in VENDOR_FILES}
    templates = [dcmread(found[name], stop_before_pixels=True) for name in VENDOR_FILES]
    turn = iter(range(1 << 62))

    def make(**overrides: Any) -> Dataset:
        ds = copy.deepcopy(templates[next(turn) % len(templates)])
        ds.SOPInstanceUID = generate_uid()
        for keyword, value in overrides.items():
            setattr(ds, keyword, value)
        return ds

    return make


def make_corpus(folder: Path, kind: str, n_files: int) -> list[Path]:
    """``n_files`` files (``small``, ``ct`` or ``vendor`` headers): 3 studies per patient,
    2 series of 10."""
    marker = folder.parent / f"{folder.name}.complete"  # outside: the walk would count it
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        makers = {"ct": make_realistic_ct, "small": make_dataset}
        make = makers[kind] if kind in makers else _vendor_maker()
        for i in range(n_files):
            study, image = divmod(i, 20)
            series = image // 10
            ds = make(
                PatientID=f"BENCH{study // 3:06d}",
                PatientName=f"Bench^Patient{study // 3:06d}",
                StudyInstanceUID=f"1.2.826.0.1.3680043.9.7777.{study}",
                SeriesInstanceUID=f"1.2.826.0.1.3680043.9.7777.{study}.{series}",
                InstanceNumber=str(image + 1),
            )
            write_dataset(ds, folder / f"{study:06d}" / f"{series}" / f"{image:02d}.dcm")
        marker.write_text("")
    return sorted(folder.rglob("*.dcm"))


def dcmread_alone(paths: list[Path]) -> Row:
    """The reference: pydicom's dcmread(stop_before_pixels=True) over every file, one process."""
    started = time.perf_counter()
    for path in paths:
        dcmread(path, stop_before_pixels=True)
    return Row("dcmread alone, 1 process", len(paths), time.perf_counter() - started)


class Databases:
    """Fresh databases for each call: SQLite files, and PostgreSQL when started."""

    def __init__(self, workdir: Path, postgres: bool) -> None:
        self.workdir = workdir
        self.count = 0
        self.server = None
        if postgres:
            from pacsflow.peers.postgres import PostgresServer

            self.server = PostgresServer(os.environ.get("PACSFLOW_PG_BIN")).start()

    def new(self, dialect: str) -> str:
        self.count += 1
        name = f"bench{self.count}"
        if dialect == "sqlite":
            return f"sqlite:///{self.workdir / name}.sqlite"
        assert self.server is not None
        admin = create_engine(self.server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.server.url(name)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def ingest(
    folder: Path, db_url: str, workers: int, env: dict[str, str], workdir: Path, tree: Path | None
) -> CliRun:
    """``pacsflow --db URL ingest FOLDER --workers N`` as a user runs it."""
    args = ["--db", db_url, "ingest", str(folder), "--workers", str(workers), "--no-progress"]
    return run_pacsflow([*args, "--allow-failures", "--json"], env, workdir, tree)


def pool_start(env: dict[str, str]) -> float:
    """Seconds until a new pool's 2 workers answered, in a process that imported Prefect."""
    code = (
        "import prefect, time\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from tasks.worker_pool import in_pool\n"
        "from pacsflow.pool_worker import worker_facts\n"
        "t = time.perf_counter()\n"
        "with ThreadPoolExecutor(2) as threads:\n"
        "    pids = {f['pid'] for f in threads.map(lambda _: in_pool(2, worker_facts), range(8))}\n"
        "print(time.perf_counter() - t, len(pids))\n"
    )
    return float(timed_python(code, env).split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="small:200,small:4000,ct:2000",
                        help="kind:files, comma-separated (small, ct or vendor)")  # fmt: skip
    parser.add_argument("--before", type=Path, default=None, help="another source tree to compare")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also 100,000 vs 10,000 small files")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()),
                        help="where corpora are written and kept for reuse")  # fmt: skip
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pacsflow-bench-"))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    server = start_prefect_server(env, workdir)
    databases = Databases(workdir, postgres=not args.skip_postgres)
    dialects = ["sqlite"] if args.skip_postgres else ["sqlite", "postgresql"]
    trees: list[tuple[str, Path | None]] = [("after", None)]
    if args.before:
        trees.append(("before", args.before))
    tables: list[tuple[str, Row, list[Row]]] = []
    try:
        for spec in args.corpora.split(","):
            kind, n = spec.split(":")
            folder = args.folder / f"pacsflow-bench-{kind}-{n}"
            paths = make_corpus(folder, kind, int(n))
            reference = dcmread_alone(paths)
            rows: list[Row] = []
            for dialect in dialects:
                for workers in (1, 2):
                    for name, tree in trees:
                        run = ingest(folder, databases.new(dialect), workers, env, workdir, tree)
                        label = f"{name}: ingest, {dialect}, {workers} worker(s)"
                        files = int(str(run.answer.get("files_seen", len(paths))))
                        rows.append(Row(label, files, run.seconds, run.peak_mb, run.left_running))
            tables.append((f"{n} {kind} files", reference, rows))
        started_s = pool_start(env)
        memory: list[Row] = []
        if args.memory:
            for n in (10_000, 100_000):
                folder = args.folder / f"pacsflow-bench-small-{n}"
                paths = make_corpus(folder, "small", n)
                run = ingest(folder, databases.new("sqlite"), 2, env, workdir, None)
                label = f"ingest {n} small files, 2 workers"
                memory.append(Row(label, n, run.seconds, run.peak_mb))
    finally:
        server.terminate()
        server.wait(timeout=30)
        databases.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{os.cpu_count()} cores; whole CLI calls; x = files/s over dcmread alone\n")
    for title, reference, rows in tables:
        print(f"{title}: dcmread alone {reference.rate:.0f} files/s")
        print(f"  {'run':<42} {'s':>7} {'files/s':>8} {'x':>6} {'peak MB':>8} {'left':>5}")
        for row in rows:
            ratio = row.rate / reference.rate
            print(f"  {row.label:<42} {row.seconds:>7.2f} {row.rate:>8.0f} {ratio:>6.2f} "
                  f"{row.peak_mb:>8.0f} {row.left_running:>5}")  # fmt: skip
    print(f"\nworker pool start (2 workers answered, Prefect imported): {started_s:.2f} s")
    if memory:
        small, large = memory
        print(f"\npeak RSS: {small.label}: {small.peak_mb:.0f} MB; {large.label}: "
              f"{large.peak_mb:.0f} MB; ratio {large.peak_mb / small.peak_mb:.2f}")  # fmt: skip
    print()
    for line in table_lines(header_rows()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
