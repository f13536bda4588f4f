"""``scripts/prefect-ops.sh``, the Prefect commands the README gives users, run by the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["run_ops"]

REPO = Path(__file__).resolve().parents[2]


def run_ops(env: dict[str, str], *args: str) -> str:
    """``scripts/prefect-ops.sh ARGS``, the commands the README gives users; its output.

    Raises:
        AssertionError: the script failed (with its output).
    """
    done = subprocess.run(
        [str(REPO / "scripts" / "prefect-ops.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout
