"""Start ``pacsflow`` commands as killable processes, and kill them as a crash would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def start_cli(
    args: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> subprocess.Popen[str]:
    """``pacsflow ARGS`` in a session of its own (its worker processes die with it).

    Standard output and error go to ``log``.
    """
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )


def finish(process: subprocess.Popen[str], log: Path) -> str:
    """Wait for a process of :func:`start_cli`; return its output. It must exit 0."""
    try:
        status = process.wait(timeout=600)
    except subprocess.TimeoutExpired:
        kill_group(process)  # a hung run must not outlive its test
        raise
    output = log.read_text(errors="replace")
    assert status == 0, output
    return output


def run_cli_to_end(args: list[str], env: Mapping[str, str], cwd: Path, log: Path) -> str:
    """Run ``pacsflow ARGS`` to its end; return its output. It must exit 0."""
    return finish(start_cli(args, env, cwd, log), log)


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process and every process of its session: no cleanup runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def kill_when(
    process: subprocess.Popen[str], ready: Callable[[], bool], *, within_s: float = 240
) -> None:
    """Kill the process group as soon as ``ready()`` holds; fail if it ends first."""
    deadline = time.monotonic() + within_s
    try:
        while not ready():
            assert process.poll() is None, f"the process ended (status {process.returncode}) first"
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.02)
    finally:
        kill_group(process)  # also when the kill point was never reached
