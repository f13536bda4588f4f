"""Benchmark: how long ``pacsflow`` commands take end to end, as a user types them.

Run from the repository root (``make bench-cli`` or ``.venv/bin/python -m
bench.cli``). With no ``PREFECT_API_URL`` (the README's default), in a fresh
Prefect home of its own, it times:

  (t)  ``pacsflow init-db`` on an up-to-date SQLite database with
       ``PACSFLOW_LOCAL_SERVER=off``: a temporary Prefect server per command,
       what every call cost before the shared local server;
  (1)  the first ``pacsflow init-db``, which starts the local server;
  (2)  the later ones (best and median of ``--repeat``), on that server;
  (i)  ``pacsflow ingest`` of ``--files`` small synthetic files on the shared
       server: wall time against the flow's own time;
  (h)  ``pacsflow --help``.

Targets (issue 18): (2) <= 2 s, and (i) wall <= 1.5 x the ingest's own time.
The local server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pacsflow.demo.synthetic import write_synthetic_folder
from pacsflow.peers.pacsflow_cli import run_pacsflow


def _timed(env: dict[str, str], cwd: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = run_pacsflow(env, cwd, *args)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"pacsflow {' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> int:
    """Run the measures and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000, help="files for the ingest (3000)")
    parser.add_argument("--repeat", type=int, default=5, help="later init-db calls timed (5)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pacsflow-bench-cli-") as scratch:
        work = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env["PREFECT_HOME"] = str(work / "prefect-home")
        env.pop("PACSFLOW_DB_URL", None)
        db = f"sqlite:///{work / 'bench.sqlite'}"
        per_image = 10
        studies = max(1, options.files // (2 * per_image))
        files = write_synthetic_folder(
            work / "dicom", n_studies=studies, images_per_series=per_image
        )
        try:
            temporary, _ = _timed(
                {**env, "PACSFLOW_LOCAL_SERVER": "off"}, work, "--db", db, "init-db"
            )
            first, _ = _timed(env, work, "--db", db, "init-db")
            later = [_timed(env, work, "--db", db, "init-db")[0] for _ in range(options.repeat)]
            wall, out = _timed(
                env, work, "--db", db, "ingest", str(work / "dicom"), "--json", "--no-progress"
            )
            flow_s = float(json.loads(out)["seconds"])
            helped, _ = _timed(env, work, "--help")
        finally:
            _timed(env, work, "server", "stop")
    print(f"pacsflow CLI, {os.cpu_count()} cores, no PREFECT_API_URL, SQLite")
    print(f"  (t) init-db, temporary server per call   {temporary:6.2f} s")
    print(f"  (1) init-db, first call (starts server)  {first:6.2f} s")
    print(
        f"  (2) init-db, later calls                 {min(later):6.2f} s best, "
        f"{statistics.median(later):.2f} s median of {len(later)}  (target <= 2 s)"
    )
    print(
        f"  (i) ingest of {files} files               {wall:6.2f} s wall, {flow_s:.2f} s in the "
        f"flow: {wall / flow_s:.2f} x  (target <= 1.5 x)"
    )
    print(f"  (h) --help                               {helped:6.2f} s")
    print(
        f"  later init-db vs temporary server: {temporary / statistics.median(later):.1f} x faster"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
