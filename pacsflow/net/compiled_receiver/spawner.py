"""A receiving process of the compiled engine: accepts connections, one program per association.

Each receiving process of the receiver service (:mod:`pacsflow.net.receiver_service`)
waits for connections on the shared listening socket; for each one it takes, it
starts the compiled storage SCP (``storescp.cc``) with the connected socket, and
that program serves the association and exits. The PACS's C-STOREs so never pass
through Python. At most ``max_associations`` programs run per receiving process;
further connections wait in the socket's queue (or go to another process) until
one ends. A program killed by a signal may leave a partial file: its receiving
process deletes it once the program has ended. The programs die with their receiving process
(``PR_SET_PDEATHSIG``); on SIGTERM it ends them too.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import subprocess
import threading
from pathlib import Path

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from pacsflow.net.nodes import Timeouts
from pacsflow.net.receiver_config import ReceiverConfig
from pacsflow.net.storage_files import remove_abandoned_parts

LOGGER = logging.getLogger(__name__)

__all__ = ["serve_with_program"]

_TICK = 0.5
_END_PATIENCE = 5.0


def serve_with_program(
    config: ReceiverConfig,
    storage: Path,
    sock: socket.socket,
    program: Path,
    stopping: threading.Event,
    parent: int,
) -> None:
    """Accept on ``sock`` and run ``program`` per association until ``stopping`` or no parent."""
    timeouts = Timeouts()
    fixed = [
        str(program),
        "--storage",
        str(storage),
        "--implementation-uid",
        PYNETDICOM_IMPLEMENTATION_UID,
        "--parent",
        str(os.getpid()),
        "--acse-timeout",
        str(round(timeouts.acse)),
        "--dimse-timeout",
        str(round(timeouts.dimse)),
        "--idle-timeout",
        str(round(timeouts.network)),
    ]
    for title in config.allowed_ae_titles:
        fixed += ["--allow", title]
    running: list[subprocess.Popen[bytes]] = []
    try:
        while not stopping.is_set() and os.getppid() == parent:
            ended = [child for child in running if child.poll() is not None]
            if ended:
                running = [child for child in running if child not in ended]
                if any(child.returncode < 0 for child in ended):  # killed mid-file, maybe
                    remove_abandoned_parts(storage)
            if len(running) >= config.max_associations:
                stopping.wait(0.01)
                continue
            ready, _, _ = select.select([sock], [], [], _TICK)
            if not ready:
                continue
            try:
                connection, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another receiving process took it
            with connection:
                connection.setblocking(True)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                fd = connection.fileno()
                running.append(
                    subprocess.Popen(
                        [*fixed, "--fd", str(fd)], pass_fds=(fd,), stdin=subprocess.DEVNULL
                    )
                )
    finally:
        if _end(running):
            remove_abandoned_parts(storage)


def _end(running: list[subprocess.Popen[bytes]]) -> bool:
    """End the associations in progress, as the pynetdicom engine does when stopped;
    whether any was still in progress."""
    cut = [child for child in running if child.poll() is None]
    for child in cut:
        child.terminate()
    for child in cut:
        try:
            child.wait(_END_PATIENCE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return bool(cut)
