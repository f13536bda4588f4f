"""A real Prefect server on 127.0.0.1 with a port of its own, in a child process.

The server runs as ``python -m prefect server start``: this module does not import Prefect.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pacsflow.peers.ports import free_port

__all__ = ["start_prefect_server"]

_START_TIMEOUT_S = 120


def start_prefect_server(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """Start ``prefect server start`` on 127.0.0.1; set ``env["PREFECT_API_URL"]`` to it.

    The caller terminates the returned process.
    """
    port = free_port()
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2)  # noqa: S310
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError(f"the Prefect server did not start within {_START_TIMEOUT_S} s")
