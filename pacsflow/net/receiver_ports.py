"""Which storage folder's receiver holds a port: one small file per port, per user and host.

A receiver knows its storage folder, and a run knows its own; a run whose
port is taken must learn which other folder's receiver holds it without
knowing that folder. The receiver therefore records itself, once it listens,
in ``<runtime>/receiver-ports/<port>.json`` (its folder, pid and host), and
forgets it before it frees the port. Only the process listening on a port
writes its file, so two never write one at once; a killed receiver's file is
left behind, so readers trust a record only while its process lives and
holds its folder's lock. The runtime folder is private to its user (0700).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pacsflow.liveness import process_alive
from pacsflow.net.receiver_files import (
    RECEIVER_FOLDER,
    ReceiverStatus,
    lock_is_held,
    read_status,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "PortHolder",
    "default_runtime_folder",
    "forget_port",
    "port_holder",
    "record_port",
]


def default_runtime_folder() -> Path:
    """``/tmp/pacsflow-<uid>``: the same for every process of this user on this host.

    Not ``$TMPDIR`` nor ``$XDG_RUNTIME_DIR``: a run started by a worker and
    one started from a shell must find the same records.
    """
    return Path("/tmp") / f"pacsflow-{os.getuid()}"  # noqa: S108 - checked private in _ports


def _ports(runtime: Path) -> Path:
    """``<runtime>/receiver-ports``, created private; refused when another user owns it."""
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = runtime.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{runtime} is not a folder of this user: remove it")
    folder = runtime / "receiver-ports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@dataclass(frozen=True)
class PortHolder:
    """pacsflow's receiver listening on a port: its folder, pid, and status (None while
    it is starting or deciding whether to leave)."""

    storage: Path
    pid: int
    status: ReceiverStatus | None


def record_port(runtime: Path, port: int, storage: Path) -> bool:
    """Record that this process, the receiver for ``storage``, listens on ``port``.

    Returns:
        Whether it is recorded: a failure is logged, and costs only the runs of
        other folders a clear message.
    """
    record = {"storage": str(storage), "pid": os.getpid(), "host": socket.gethostname()}
    try:
        folder = _ports(runtime)
        fd, partial = tempfile.mkstemp(prefix=f"{port}-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(partial, folder / f"{port}.json")
    except OSError as exc:
        LOGGER.warning("Cannot record port %d under %s: %s", port, runtime, exc)
        return False
    return True


def _read(runtime: Path, port: int) -> tuple[Path, int, str] | None:
    try:
        raw = json.loads((_ports(runtime) / f"{port}.json").read_text(encoding="utf-8"))
        return Path(raw["storage"]), int(raw["pid"]), str(raw["host"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def forget_port(runtime: Path, port: int) -> None:
    """Delete the record of ``port`` if this process wrote it (call it while still listening)."""
    record = _read(runtime, port)
    if record is not None and record[1] == os.getpid():
        try:
            (_ports(runtime) / f"{port}.json").unlink(missing_ok=True)
        except OSError as exc:
            LOGGER.warning("Cannot remove the record of port %d under %s: %s", port, runtime, exc)


def port_holder(runtime: Path, port: int) -> PortHolder | None:
    """pacsflow's receiver holding ``port`` now, as recorded; None when none is known to."""
    record = _read(runtime, port)
    if record is None:
        return None
    storage, pid, host = record
    if host != socket.gethostname() or not process_alive(pid):
        return None
    if not (storage / RECEIVER_FOLDER / "lock").exists() or not lock_is_held(storage):
        return None  # checked first: a folder since deleted is not made again
    status = read_status(storage)
    if status is not None and (status.pid, status.port) != (pid, port):
        return None  # another receiver serves that folder now, elsewhere
    return PortHolder(storage, pid, status)
