"""Running ``pacsflow`` as a user does, from this tree or another, with its peak memory.

Shared by the benchmarks. Each call is a fresh process started like the
``pacsflow`` console script (a main script that imports the CLI), from this
tree or from ``--before`` (e.g. ``git archive main | tar -x -C /tmp/before``),
under a small wrapper that makes itself the subreaper of the call: every
process the call leaves (a pool's fork server and workers) is reparented to
the wrapper and reaped by it, so ``RUSAGE_CHILDREN``'s peak resident memory
covers them all, and a process the call left running is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "CliRun", "run_pacsflow"]

_LAUNCHER = """import sys
from flows.cli.main import main
if __name__ == "__main__":
    sys.exit(main())
"""

_WRAPPER = r"""
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans come to us
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
left, deadline = 0, time.monotonic() + 60
while True:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        if time.monotonic() > deadline:
            me = str(os.getpid())
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                left += stat[1] == me  # still running a minute after the call
            break
        time.sleep(0.02)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr[-3000:],
                  "wall": wall, "peak_kb": peak, "left_running": left}))
"""


@dataclass
class CliRun:
    """One ``pacsflow`` call: wall time, peak RSS of its largest process, its JSON answer."""

    seconds: float
    peak_mb: float
    answer: dict[str, object]
    left_running: int


def _launcher(workdir: Path) -> Path:
    path = workdir / "pacsflow_launcher.py"
    if not path.exists():
        path.write_text(_LAUNCHER)
    return path


def run_pacsflow(
    args: list[str], env: dict[str, str], workdir: Path, tree: Path | None = None
) -> CliRun:
    """Run ``pacsflow ARGS`` from ``tree`` (default this one); it must succeed.

    The last line of its standard output, when JSON, is the answer.
    """
    source = tree or REPO
    command = [sys.executable, "-c", _WRAPPER, sys.executable, str(_launcher(workdir)), *args]
    run_env = {**env, "PYTHONPATH": str(source)}
    done = subprocess.run(
        command, env=run_env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the wrapper failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["code"] != 0:
        raise RuntimeError(f"pacsflow {' '.join(args[:4])} failed: {report['err']}")
    lines = report["out"].strip().splitlines()
    answer: dict[str, object] = {}
    if lines and lines[-1].startswith("{"):
        answer = json.loads(lines[-1])
    return CliRun(report["wall"], report["peak_kb"] / 1024, answer, report["left_running"])


def timed_python(code: str, env: dict[str, str]) -> str:
    """Run ``code`` in a fresh interpreter of this tree; its standard output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"failed after {time.perf_counter() - started:.1f} s: {done.stderr}")
    return done.stdout
