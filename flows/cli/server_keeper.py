"""Keeps the CLI's local Prefect server running while it is used; stops it when idle.

Run by :mod:`flows.cli.local_server` as ``python -m flows.cli.server_keeper
FOLDER PORT IDLE_SECONDS`` in a session of its own. It starts ``prefect
server start`` on 127.0.0.1:PORT as its child (its UI told to call the
API there, not on port 4200), then checks every few seconds: when no
``pacsflow`` command is using the server (``clients/<pid>`` of a live
process) and the last one ended more than IDLE_SECONDS ago, or when the
server died, it stops the server, removes the record and exits.
SIGTERM (``pacsflow server stop``) stops both at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from flows.cli.local_server import folder_lock
from pacsflow.liveness import process_alive
from pacsflow.peers.processes import stop_process


def _idle_seconds(folder: Path) -> float:
    """0 while a live command uses the server, else the seconds since the last one ended."""
    clients = folder / "clients"
    for entry in clients.iterdir() if clients.is_dir() else ():
        if entry.name.isdigit() and process_alive(int(entry.name)):
            return 0.0
        entry.unlink(missing_ok=True)  # a command that crashed
    last = folder / "last-used"
    started = folder / "server.json"
    since = max((p.stat().st_mtime for p in (last, started) if p.exists()), default=time.time())
    return time.time() - since


def _forget(folder: Path) -> None:
    """Remove the record if it is this keeper's (a newer server may have replaced it)."""
    record = folder / "server.json"
    with contextlib.suppress(OSError, ValueError):
        if json.loads(record.read_text()).get("pid") == os.getpid():
            record.unlink()


def server_environment(port: int) -> dict[str, str]:
    """This process's environment, with the server's UI told where its API is.

    Without it the UI asks the API on port 4200 ("Can't connect to Server API").
    """
    api = f"http://127.0.0.1:{port}/api"
    return {**os.environ, "PREFECT_SERVER_UI_API_URL": api, "PREFECT_UI_API_URL": api}


def main(argv: list[str]) -> int:
    """Start the server, watch it, stop it when idle; the exit status."""
    folder, port, idle = Path(argv[0]), int(argv[1]), float(argv[2])
    (folder / "last-used").touch()
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdin=subprocess.DEVNULL, env=server_environment(port)
    )

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    poll = max(0.5, min(5.0, idle / 4))
    try:
        while server.poll() is None:
            time.sleep(poll)
            if _idle_seconds(folder) < idle:
                continue
            # Under the lock: a command registers itself before it takes the lock to
            # look for a server, so either it is seen here, or it starts a new one.
            with folder_lock(folder):
                if _idle_seconds(folder) >= idle:
                    stop_process(server, timeout_s=15)
                    _forget(folder)
                    break
    finally:  # SIGTERM from `pacsflow server stop`, which holds the lock itself
        if server.poll() is None:
            stop_process(server, timeout_s=15)
        _forget(folder)
    print(f"pacsflow's local Prefect server on port {port} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
