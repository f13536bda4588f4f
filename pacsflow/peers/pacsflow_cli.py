"""The ``pacsflow`` command in a child process, as the tests and the benchmarks run it.

It runs ``python -m flows.cli`` from the repository (the module is named,
never imported: the core stays below the CLI).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["run_pacsflow"]


def run_pacsflow(
    env: Mapping[str, str],
    cwd: Path,
    *args: str,
    prefix: Sequence[str] = (),
    timeout_s: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``pacsflow ARGS`` in a fresh process with exactly ``env``, run by ``prefix`` if given.

    Args:
        env: the process's whole environment.
        cwd: its working folder.
        args: the command line after ``pacsflow``.
        prefix: a command that runs it (e.g. ``["setpriv", ...]``).
        timeout_s: how long it may take before :class:`subprocess.TimeoutExpired`.

    Returns:
        The completed process, its output captured as text (check its return code).
    """
    return subprocess.run(
        [*prefix, sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout_s,
        check=False,
    )
