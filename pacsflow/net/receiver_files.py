"""The receiver service's files in the storage folder: its lock, status and the runs' leases.

``<storage>/.receiver/`` holds:

- ``lock``: flock-ed by the receiver for its whole life, so one receiver at
  most serves a storage folder, and a dead one (even SIGKILLed) frees it;
- ``status.json``: where it listens, as which AE title, whom it accepts, its pid;
- ``leases/``: one file per run using it, named ``host:pid:...``; a receiver
  started on demand exits once no live run has held a lease for a while;
- ``receiver.log``: the output of receivers started on demand.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pacsflow.liveness import owner_is_gone, owner_tag, process_alive

__all__ = [
    "RECEIVER_FOLDER",
    "ReceiverStatus",
    "lease_owners",
    "live_leases",
    "lock_is_held",
    "log_path",
    "new_lease",
    "read_status",
    "receiver_folder",
    "remove_status",
    "running_receiver",
    "take_lock",
    "write_status",
]

RECEIVER_FOLDER = ".receiver"


@dataclass(frozen=True)
class ReceiverStatus:
    """What a running receiver publishes about itself."""

    pid: int
    host: str
    ae_title: str
    bind_address: str
    port: int
    allowed_ae_titles: tuple[str, ...]
    workers: tuple[int, ...]
    idle_exit: float | None
    engine: str = "pynetdicom"
    """Which storage SCP receives: ``dcmtk`` (compiled) or ``pynetdicom``."""

    def describe(self) -> str:
        """One line for messages: AE title, address and pid."""
        return f"{self.ae_title} on {self.bind_address}:{self.port} (pid {self.pid})"


def receiver_folder(storage: Path) -> Path:
    """``<storage>/.receiver``, created when missing."""
    folder = storage / RECEIVER_FOLDER
    (folder / "leases").mkdir(parents=True, exist_ok=True)
    return folder


def log_path(storage: Path) -> Path:
    """Where receivers started on demand write their output."""
    return receiver_folder(storage) / "receiver.log"


def take_lock(storage: Path) -> int | None:
    """The lock's file descriptor, now held; None when another process holds it."""
    fd = os.open(receiver_folder(storage) / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_is_held(storage: Path) -> bool:
    """Whether a receiver holds the storage folder's lock right now."""
    fd = take_lock(storage)
    if fd is None:
        return True
    os.close(fd)  # closing releases it
    return False


def write_status(storage: Path, status: ReceiverStatus) -> None:
    """Publish ``status`` atomically (readers never see half a file)."""
    folder = receiver_folder(storage)
    fd, partial = tempfile.mkstemp(prefix="status-", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(status), out)
    os.replace(partial, folder / "status.json")


def read_status(storage: Path) -> ReceiverStatus | None:
    """The published status, or None when there is none (or it is unreadable)."""
    try:
        raw = json.loads((storage / RECEIVER_FOLDER / "status.json").read_text(encoding="utf-8"))
        raw["allowed_ae_titles"] = tuple(raw["allowed_ae_titles"])
        raw["workers"] = tuple(raw["workers"])
        return ReceiverStatus(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def remove_status(storage: Path, pid: int) -> None:
    """Delete the status if process ``pid`` published it."""
    status = read_status(storage)
    if status is not None and status.pid == pid:
        (storage / RECEIVER_FOLDER / "status.json").unlink(missing_ok=True)


def running_receiver(storage: Path) -> ReceiverStatus | None:
    """The status of the receiver serving ``storage`` now, or None when none runs.

    A status counts only while its process lives on this host and holds the
    lock, so the leftovers of a killed receiver are never mistaken for one.
    """
    status = read_status(storage)
    if status is None or status.host != socket.gethostname() or not process_alive(status.pid):
        return None
    return status if lock_is_held(storage) else None


def new_lease(storage: Path) -> Path:
    """A lease file for this process: the receiver stays while it exists."""
    fd, lease = tempfile.mkstemp(prefix=f"{owner_tag()}:", dir=receiver_folder(storage) / "leases")
    os.close(fd)
    return Path(lease)


def lease_owners(storage: Path) -> list[str]:
    """The ``host:pid`` of each live process holding a lease; dead ones' leases are deleted."""
    owners = []
    for lease in (receiver_folder(storage) / "leases").iterdir():
        if owner_is_gone(lease.name):
            lease.unlink(missing_ok=True)
        else:
            owners.append(":".join(lease.name.split(":")[:2]))
    return owners


def live_leases(storage: Path) -> int:
    """How many leases are held by live processes; those of dead ones are deleted."""
    return len(lease_owners(storage))
