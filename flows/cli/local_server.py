"""The local Prefect server of the ``pacsflow`` command: started once, reused, stopped when idle.

With no ``PREFECT_API_URL``, every flow run would start a temporary Prefect
server of its own (~10 s on a small machine) and stop it at the end. The
CLI instead starts one server on 127.0.0.1 the first time it needs one,
records it, and every later call runs its flows there (and shows them in
its UI). A keeper process (:mod:`flows.cli.server_keeper`) stops the server
once no ``pacsflow`` command has used it for ``PACSFLOW_SERVER_IDLE_SECONDS``
(1800), and none is running.

Everything lives in ``<Prefect home>/pacsflow-server/``: ``server.json``
(the keeper's pid, the port, the URL), ``lock`` (concurrent first calls
start one server, not two), ``last-used``, ``clients/<pid>`` (the commands
using it now) and ``server.log``. A record whose keeper is gone, or whose
server does not answer, is replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from pacsflow.liveness import process_alive as _alive

__all__ = [
    "IDLE_ENV",
    "PORT_ENV",
    "ServerRecord",
    "current_server",
    "ensure_server",
    "folder_lock",
    "server_folder",
    "stop_server",
    "using_server",
]

IDLE_ENV = "PACSFLOW_SERVER_IDLE_SECONDS"
"""Seconds without a ``pacsflow`` command after which the local server stops (1800)."""
PORT_ENV = "PACSFLOW_SERVER_PORT"
"""The local server's port (default: a free one, chosen when it starts)."""
DEFAULT_IDLE_S = 1800
_START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class ServerRecord:
    """A running local server: its keeper (whose process group holds the server), port, URL."""

    pid: int
    port: int
    url: str
    started: float


def prefect_home() -> Path:
    """``$PREFECT_HOME``, else pacsflow's own Prefect home, ``~/.pacsflow/prefect``."""
    configured = os.environ.get("PREFECT_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".pacsflow" / "prefect"


def server_folder() -> Path:
    """Where the local server's record, lock, clients and log are."""
    return prefect_home() / "pacsflow-server"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as answer:  # noqa: S310 - http on 127.0.0.1
            return bool(answer.status == 200)
    except OSError:
        return False


def _read_record(folder: Path) -> ServerRecord | None:
    try:
        return ServerRecord(**json.loads((folder / "server.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def current_server() -> ServerRecord | None:
    """The local server, when its keeper is alive and it answers; else None."""
    record = _read_record(server_folder())
    if record is None or not _alive(record.pid) or not _healthy(record.url):
        return None
    return record


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the server folder's lock: one process at a time starts, replaces or stops it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _free_port() -> int:
    configured = os.environ.get(PORT_ENV)
    if configured:
        return int(configured)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill_group(pid: int) -> None:
    """Stop a keeper and its server (one process group), waiting up to 20 s."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _start(folder: Path) -> ServerRecord:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(prefect_home())
    idle = os.environ.get(IDLE_ENV, str(DEFAULT_IDLE_S))
    # Through the launcher: an installed wheel keeps flows/ off sys.path.
    launch = [sys.executable, "-m", "pacsflow.launcher", "flows.cli.server_keeper"]
    with (folder / "server.log").open("ab") as log:
        keeper = subprocess.Popen(
            [*launch, str(folder), str(port), idle],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives this command; its group holds the server
        )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not _healthy(url):
        if keeper.poll() is not None or time.monotonic() > deadline:
            _kill_group(keeper.pid)
            raise RuntimeError(
                f"the local Prefect server did not start on 127.0.0.1:{port}; "
                f"see {folder / 'server.log'}"
            )
        time.sleep(0.2)
    record = ServerRecord(keeper.pid, port, url, time.time())
    (folder / "server.json").write_text(json.dumps(asdict(record)))
    return record


def ensure_server() -> str:
    """The API URL of the local server, started now if none runs (concurrent callers share one).

    Raises:
        RuntimeError: the server could not be started (its log is named).
    """
    folder = server_folder()
    with folder_lock(folder):
        record = _read_record(folder)
        if record is not None and _alive(record.pid) and _healthy(record.url):
            return record.url
        if record is not None:  # left by a crash, or hung: replaced
            if _alive(record.pid):
                _kill_group(record.pid)
            (folder / "server.json").unlink(missing_ok=True)
        return _start(folder).url


@contextlib.contextmanager
def using_server() -> Iterator[None]:
    """Mark this process as using the local server, so that its keeper does not stop it."""
    clients = server_folder() / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    mine = clients / str(os.getpid())
    mine.touch()
    try:
        yield
    finally:
        mine.unlink(missing_ok=True)
        (server_folder() / "last-used").touch()


def stop_server() -> ServerRecord | None:
    """Stop the local server if one runs; the record of the one stopped."""
    folder = server_folder()
    with folder_lock(folder):
        record = _read_record(folder)
        if record is None:
            return None
        if _alive(record.pid):
            _kill_group(record.pid)
        (folder / "server.json").unlink(missing_ok=True)
        return record
