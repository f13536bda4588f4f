"""A run's use of the receiver service: find it, start it on demand, hold a lease.

A C-MOVE run needs pacsflow's storage SCP listening on its AE title and port.
:class:`ReceiverLease` makes sure one does for as long as the run lasts: it
reuses the receiver serving the storage folder (started by ``pacsflow
receiver``, the ops script, or an earlier run), or starts one in a session of
its own (so cancelling the run does not kill it) with an idle exit, and holds
a lease so the receiver does not leave while the run needs it. Two
overlapping runs therefore share one receiver, one AE title and one port.
The C-MOVE transport (:mod:`pacsflow.net.transports.c_move`) is its user.

The idle exit is a parameter; left out, the receiver started takes its own
default as it starts (``$PACSFLOW_RECEIVER_IDLE_EXIT``, read by the receiver
service's entry point, :func:`~pacsflow.net.receiver_service.main`): nothing
here reads the environment.

A port serves one folder at a time: a run for another folder finds the
receiver holding its port (:mod:`pacsflow.net.receiver_ports`) and asks it
to give way, which one started on demand does when no live run leases it;
otherwise the run fails with a message naming that folder and who uses it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pacsflow.errors import PermanentError
from pacsflow.net.nodes import LocalAE
from pacsflow.net.receiver_config import DEFAULT_IDLE_EXIT, IDLE_EXIT_ENV, default_workers
from pacsflow.net.receiver_files import (
    ReceiverStatus,
    lease_owners,
    live_leases,
    lock_is_held,
    log_path,
    new_lease,
    running_receiver,
)
from pacsflow.net.receiver_ports import PortHolder, default_runtime_folder, port_holder
from pacsflow.net.receiver_service import EXIT_ALREADY_RUNNING

__all__ = [
    "DEFAULT_IDLE_EXIT",
    "IDLE_EXIT_ENV",
    "ReceiverLease",
    "ReceiverMismatchError",
    "ReceiverPortBusyError",
    "ReceiverStartError",
    "ensure_receiver",
    "stop_receiver",
]


class ReceiverStartError(PermanentError):
    """The receiver could not be started (port in use, folder not writable)."""


class ReceiverMismatchError(PermanentError):
    """The receiver serving the storage folder listens or accepts differently from this run."""


class ReceiverPortBusyError(ReceiverStartError):
    """pacsflow's receiver for another storage folder holds the port, and stays."""


def _check_matches(status: ReceiverStatus, local: LocalAE, calling: str, storage: Path) -> None:
    if (status.ae_title, status.port) != (local.ae_title, local.port):
        raise ReceiverMismatchError(
            f"the receiver serving {storage} is {status.describe()}, not {local.ae_title} on "
            f"port {local.port}: stop it (pacsflow receiver stop --storage {storage}) or use its "
            "AE title and port"
        )
    if calling not in status.allowed_ae_titles:
        raise ReceiverMismatchError(
            f"the receiver serving {storage} accepts only {', '.join(status.allowed_ae_titles)}, "
            f"not {calling}: restart it with --allow {calling}"
        )


_STARTED: list[subprocess.Popen[bytes]] = []
"""Receivers this process started: kept, so they are reaped and not reported as leaked."""


def _busy_port(local: LocalAE, holder: PortHolder) -> ReceiverPortBusyError:
    where = f"port {local.port} is held by pacsflow's receiver for {holder.storage}"
    if holder.status is not None and holder.status.idle_exit is None:
        return ReceiverPortBusyError(
            f"{where}, started by an operator (pid {holder.pid}); stop it (pacsflow receiver "
            f"stop --storage {holder.storage}) or use another --local-port"
        )
    pids = [owner.partition(":")[2] for owner in lease_owners(holder.storage)]
    runs = (
        f"runs (pids {', '.join(pids)})" if len(pids) > 1 else f"a run (pid {''.join(pids) or '?'})"
    )
    return ReceiverPortBusyError(f"{where}, in use by {runs}; use another --local-port or wait")


def _give_way(pid: int, storage: Path, patience: float = 5.0) -> None:
    """Ask the on-demand receiver ``pid`` of ``storage`` to leave if no run leases it.

    It decides itself (unpublishing its status, then counting leases, as on
    its idle exit), so a run taking a lease meanwhile keeps it. Returns once
    it left, or after ``patience`` seconds: the caller looks again.
    """
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + patience
    while lock_is_held(storage) and time.monotonic() < deadline:
        time.sleep(0.05)


def _spawn(
    local: LocalAE, storage: Path, calling: str, runtime: Path, idle_exit: float | None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a receiver in a session of its own; also return where its output starts in the log.

    Without ``idle_exit`` the receiver takes its own (``--on-demand``: from its
    environment, which it inherits from this process, else the default).
    """
    leaving = ["--on-demand", *([] if idle_exit is None else ["--idle-exit", str(idle_exit)])]
    _STARTED[:] = [started for started in _STARTED if started.poll() is None]
    log = log_path(storage)
    with log.open("ab") as out:
        offset = out.tell()
        child = subprocess.Popen(
            [sys.executable, "-m", "pacsflow.net.receiver_service",
             "--aet", local.ae_title, "--port", str(local.port), "--bind", local.bind_address,
             "--storage", str(storage), "--allow", calling,
             "--workers", str(default_workers()), *leaving, "--runtime", str(runtime)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    _STARTED.append(child)
    return child, offset


def _log_since(storage: Path, offset: int) -> str:
    with log_path(storage).open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace").strip()[-2000:]


def ensure_receiver(
    local: LocalAE,
    storage: Path,
    calling: str,
    *,
    idle_exit: float | None = None,
    timeout: float = 30.0,
    runtime: Path | None = None,
) -> ReceiverStatus:
    """The receiver serving ``storage``, started when none runs.

    Args:
        local: the AE title and port the run's C-MOVEs name as destination.
        storage: the run's storage folder.
        calling: the PACS's AE title, which the receiver must accept.
        idle_exit: seconds a receiver started here waits, unleased, before it
            exits; None: the receiver service's default
            (``$PACSFLOW_RECEIVER_IDLE_EXIT`` as it starts, else 600).
        timeout: seconds to wait for a receiver to listen.
        runtime: where receivers record their ports (default
            :func:`~pacsflow.net.receiver_ports.default_runtime_folder`).

    A receiver that serves the folder with another AE title or port, or
    does not accept ``calling``, is stopped and replaced when it was started
    on demand and no run holds a lease on it; so is one serving another
    folder on ``local.port``.

    Raises:
        ReceiverMismatchError: such a receiver was started by an operator, or
            a run still uses it.
        ReceiverPortBusyError: the receiver for another folder holds the port
            and stays (the message names the folder, and the runs using it).
        ReceiverStartError: none could be started (the message says why).
    """
    storage = storage.resolve()
    runtime = runtime or default_runtime_folder()
    deadline = time.monotonic() + timeout
    child: subprocess.Popen[bytes] | None = None
    offset = 0
    while True:
        if time.monotonic() > deadline:
            raise ReceiverStartError(
                f"no receiver listened for {storage} within {timeout:.0f} s; "
                f"see {log_path(storage)}"
            )
        status = running_receiver(storage)
        if status is not None:
            try:
                _check_matches(status, local, calling, storage)
            except ReceiverMismatchError:
                # One started on demand that no run uses any more gives way.
                if status.idle_exit is None or live_leases(storage):
                    raise
                _give_way(status.pid, storage)
                continue
            return status
        holder = port_holder(runtime, local.port)
        if holder is not None and holder.storage != storage:
            if holder.status is None:
                pass  # starting, or deciding whether to leave: look again
            elif holder.status.idle_exit is None or live_leases(holder.storage):
                raise _busy_port(local, holder)
            else:
                _give_way(holder.pid, holder.storage)
                continue
        # A receiver that holds the lock but has not published yet is starting.
        elif not lock_is_held(storage) and (child is None or child.poll() is not None):
            if child is not None and child.returncode != EXIT_ALREADY_RUNNING:
                if port_holder(runtime, local.port) is not None:
                    child = None  # it lost the port to another folder's receiver: look again
                    continue
                raise ReceiverStartError(
                    f"the receiver for {storage} did not start: {_log_since(storage, offset)}"
                )
            child, offset = _spawn(local, storage, calling, runtime, idle_exit)
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
        idle_exit: that of a receiver started here (see :func:`ensure_receiver`).
        runtime: where receivers record their ports (see :func:`ensure_receiver`).
    """

    def __init__(
        self,
        local: LocalAE,
        storage: Path,
        calling: str,
        *,
        idle_exit: float | None = None,
        runtime: Path | None = None,
    ) -> None:
        self.local = local
        self.storage = storage
        self.calling = calling
        self.idle_exit = idle_exit
        self.runtime = runtime
        self._lease: Path | None = None

    def __enter__(self) -> ReceiverStatus:
        self._ensure()
        self._lease = new_lease(self.storage.resolve())
        # Checked again, leased: a receiver on its idle exit may have left meanwhile.
        try:
            return self._ensure()
        except BaseException:
            self._drop_lease()
            raise

    def __exit__(self, *_exc_info: object) -> None:
        self._drop_lease()

    def _ensure(self) -> ReceiverStatus:
        return ensure_receiver(
            self.local, self.storage, self.calling, idle_exit=self.idle_exit, runtime=self.runtime
        )

    def _drop_lease(self) -> None:
        if self._lease is not None:
            self._lease.unlink(missing_ok=True)
            self._lease = None
