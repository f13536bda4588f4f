"""A run's use of the receiver service: find it, start it on demand, hold a lease.

A C-MOVE run needs pacsflow's storage SCP listening on its AE title and port.
:class:`ReceiverLease` makes sure one does for as long as the run lasts: it
reuses the receiver serving the storage folder (started by ``pacsflow
receiver``, the ops script, or an earlier run), or starts one in a session of
its own (so cancelling the run does not kill it) with an idle exit, and holds
a lease so the receiver does not leave while the run needs it. Two
overlapping runs therefore share one receiver, one AE title and one port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from pacsflow.errors import PermanentError
from pacsflow.net.nodes import LocalAE
from pacsflow.net.receiver_files import (
    ReceiverStatus,
    live_leases,
    lock_is_held,
    log_path,
    new_lease,
    running_receiver,
)
from pacsflow.net.receiver_service import EXIT_ALREADY_RUNNING, default_workers

__all__ = [
    "DEFAULT_IDLE_EXIT",
    "IDLE_EXIT_ENV",
    "ReceiverLease",
    "ReceiverMismatchError",
    "ReceiverStartError",
    "ensure_receiver",
    "stop_receiver",
]

IDLE_EXIT_ENV = "PACSFLOW_RECEIVER_IDLE_EXIT"
"""Seconds a receiver started on demand waits for the next run before it exits."""
DEFAULT_IDLE_EXIT = 600.0


class ReceiverStartError(PermanentError):
    """The receiver could not be started (port in use, folder not writable)."""


class ReceiverMismatchError(PermanentError):
    """The receiver serving the storage folder listens or accepts differently from this run."""


def _idle_exit() -> float:
    raw = os.environ.get(IDLE_EXIT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_IDLE_EXIT
    except ValueError:
        raise ReceiverStartError(
            f"${IDLE_EXIT_ENV} must be a number of seconds, not {raw!r}"
        ) from None


def _check_matches(status: ReceiverStatus, local: LocalAE, calling: str, storage: Path) -> None:
    if (status.ae_title, status.port) != (local.ae_title, local.port):
        raise ReceiverMismatchError(
            f"the receiver serving {storage} is {status.describe()}, not {local.ae_title} on "
            f"port {local.port}: stop it (pacsflow receiver --stop) or use its AE title and port"
        )
    if calling not in status.allowed_ae_titles:
        raise ReceiverMismatchError(
            f"the receiver serving {storage} accepts only {', '.join(status.allowed_ae_titles)}, "
            f"not {calling}: restart it with --allow {calling}"
        )


_STARTED: list[subprocess.Popen[bytes]] = []
"""Receivers this process started: kept, so they are reaped and not reported as leaked."""


def _spawn(local: LocalAE, storage: Path, calling: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a receiver in a session of its own; also return where its output starts in the log."""
    _STARTED[:] = [started for started in _STARTED if started.poll() is None]
    log = log_path(storage)
    with log.open("ab") as out:
        offset = out.tell()
        child = subprocess.Popen(
            [sys.executable, "-m", "pacsflow.net.receiver_service",
             "--aet", local.ae_title, "--port", str(local.port), "--bind", local.bind_address,
             "--storage", str(storage), "--allow", calling,
             "--workers", str(default_workers()), "--idle-exit", str(_idle_exit())],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    _STARTED.append(child)
    return child, offset


def _log_since(storage: Path, offset: int) -> str:
    with log_path(storage).open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace").strip()[-2000:]


def ensure_receiver(
    local: LocalAE, storage: Path, calling: str, *, timeout: float = 30.0
) -> ReceiverStatus:
    """The receiver serving ``storage``, started when none runs.

    Args:
        local: the AE title and port the run's C-MOVEs name as destination.
        storage: the run's storage folder.
        calling: the PACS's AE title, which the receiver must accept.
        timeout: seconds to wait for a receiver to listen.

    A receiver that serves the folder with another AE title or port, or
    does not accept ``calling``, is stopped and replaced when it was started
    on demand and no run holds a lease on it.

    Raises:
        ReceiverMismatchError: such a receiver was started by an operator, or
            a run still uses it.
        ReceiverStartError: none could be started (the message says why).
    """
    storage = storage.resolve()
    deadline = time.monotonic() + timeout
    child: subprocess.Popen[bytes] | None = None
    offset = 0
    while True:
        status = running_receiver(storage)
        if status is not None:
            try:
                _check_matches(status, local, calling, storage)
            except ReceiverMismatchError:
                # One started on demand that no run uses any more gives way.
                if status.idle_exit is None or live_leases(storage):
                    raise
                stop_receiver(storage)
                continue
            return status
        # A receiver that holds the lock but has not published yet is starting.
        if not lock_is_held(storage) and (child is None or child.poll() is not None):
            if child is not None and child.returncode != EXIT_ALREADY_RUNNING:
                raise ReceiverStartError(
                    f"the receiver for {storage} did not start: {_log_since(storage, offset)}"
                )
            child, offset = _spawn(local, storage, calling)
        if time.monotonic() > deadline:
            raise ReceiverStartError(
                f"no receiver listened for {storage} within {timeout:.0f} s; "
                f"see {log_path(storage)}"
            )
        time.sleep(0.05)


def stop_receiver(storage: Path, *, timeout: float = 15.0) -> ReceiverStatus | None:
    """Stop the receiver serving ``storage`` and wait until it is gone; None when none ran."""
    storage = storage.resolve()
    status = running_receiver(storage)
    if status is None:
        return None
    os.kill(status.pid, 15)  # SIGTERM: the workers finish their files and stop
    deadline = time.monotonic() + timeout
    while lock_is_held(storage):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the receiver {status.describe()} did not stop in {timeout:.0f} s")
        time.sleep(0.05)
    return status


class ReceiverLease:
    """While the ``with`` block lasts, a receiver serves ``storage`` and stays for this run.

    Args:
        local: the AE title and port the run's C-MOVEs name as destination.
        storage: the run's storage folder.
        calling: the PACS's AE title.
    """

    def __init__(self, local: LocalAE, storage: Path, calling: str) -> None:
        self.local = local
        self.storage = storage
        self.calling = calling
        self._lease: Path | None = None

    def __enter__(self) -> ReceiverStatus:
        ensure_receiver(self.local, self.storage, self.calling)
        self._lease = new_lease(self.storage.resolve())
        # Checked again, leased: a receiver on its idle exit may have left meanwhile.
        return ensure_receiver(self.local, self.storage, self.calling)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._lease is not None:
            self._lease.unlink(missing_ok=True)
            self._lease = None
