"""pacsflow's storage SCP: where the PACS sends the images of a C-MOVE.

Each received instance is written to
``<storage>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.
The three UIDs are checked against the UID grammar (digits and dots) before
they become path parts, so no sender can write outside the storage folder.
A file is first written under ``<storage>/.incoming/`` and then renamed into
place, so a study folder only ever holds complete files, even after a crash;
the partial files of a crashed SCP are deleted when the next one starts. Each
file is fsynced before its rename (or, with ``sync_each=False``, all of a
study's files at once), and :func:`sync_study_folder` syncs the folders before
a study is marked retrieved, so a power cut cannot undo files the database
vouches for.

The SCP listens on a socket it binds itself, or on one bound by a parent
process and shared by several SCP processes (the receiver service,
:mod:`pacsflow.net.receiver_service`): the kernel hands each connection to
one of them.

Only the configured calling AE titles (the PACS) may associate, at most
``max_associations`` at once; a C-STORE that cannot be stored is answered
with a failure status, which the PACS counts as a failed sub-operation.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.presentation import AllStoragePresentationContexts, PresentationContext
from pynetdicom.transport import ThreadedAssociationServer

from pacsflow.net.association import set_nodelay
from pacsflow.net.nodes import LocalAE, Timeouts, validate_ae_title
from pacsflow.net.receiver import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    InstanceReceiver,
)
from pacsflow.net.storage_files import prepare_storage

LOGGER = logging.getLogger(__name__)

__all__ = ["STATUS_CANNOT_UNDERSTAND", "STATUS_OUT_OF_RESOURCES", "StorageSCP", "listening_socket"]


def listening_socket(bind_address: str, port: int) -> socket.socket:
    """A TCP socket bound to ``bind_address:port`` and listening, in non-blocking mode.

    Non-blocking, so that processes sharing it can all wait for connections:
    the one that loses the race for a connection gets ``EAGAIN``, which the
    association server ignores.

    Raises:
        OSError: the port is in use (the message says what to do) or the address is wrong.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_address, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno,
            f"the storage SCP cannot listen on {bind_address}:{port} ({exc.strerror}); "
            "is another program using that port? Choose another local port (the PACS must know it)",
        ) from exc
    sock.setblocking(False)
    return sock


class StorageSCP:
    """A storage SCP running in background threads while the ``with`` block lasts.

    Args:
        local: pacsflow's AE title, port and bind address.
        storage: the folder receiving the files (created when missing).
        allowed_ae_titles: the calling AE titles accepted (the PACS); others are rejected.
        max_associations: associations served at once; more are rejected as busy.
        timeouts: ACSE, DIMSE and network timeouts of the served associations.
        sync_each: fsync each file as it is written; without, the files are
            synced per study before it is marked retrieved.
        listening: a socket already listening (shared with other SCP processes);
            default: bind ``local.bind_address:local.port`` when started.
    """

    def __init__(
        self,
        local: LocalAE,
        storage: str | os.PathLike[str],
        allowed_ae_titles: Sequence[str],
        *,
        max_associations: int = 4,
        timeouts: Timeouts | None = None,
        sync_each: bool = True,
        listening: socket.socket | None = None,
    ) -> None:
        if not allowed_ae_titles:
            raise ValueError("the storage SCP needs at least one allowed calling AE title")
        if max_associations < 1:
            raise ValueError(f"max_associations must be at least 1, not {max_associations}")
        self.local = local
        self.storage = Path(storage)
        self.allowed_ae_titles = [validate_ae_title(t, "calling") for t in allowed_ae_titles]
        self.max_associations = max_associations
        self.timeouts = timeouts or Timeouts()
        self.receiver = InstanceReceiver(self.storage, sync_each=sync_each)
        self._listening = listening
        self._server: ThreadedAssociationServer | None = None
        self._ae: AE | None = None

    # -- counters --------------------------------------------------------------

    def stored_count(self, study_uid: str) -> int:
        """Instances of ``study_uid`` stored since the SCP started."""
        return self.receiver.stored_count(study_uid)

    @property
    def refused(self) -> int:
        """C-STOREs answered with a failure status since the SCP started."""
        return self.receiver.refused

    # -- life cycle ------------------------------------------------------------

    def start(self) -> StorageSCP:
        """Listen on the local AE's address and port.

        Raises:
            OSError: the port is in use or the folder cannot be created.
        """
        prepare_storage(self.storage)
        sock = self._listening or listening_socket(self.local.bind_address, self.local.port)
        ae = AE(ae_title=self.local.ae_title)
        ae.maximum_pdu_size = 0  # no limit: the PACS sends its largest PDUs
        ae.require_calling_aet = self.allowed_ae_titles
        ae.maximum_associations = self.max_associations
        ae.acse_timeout = self.timeouts.acse
        ae.dimse_timeout = self.timeouts.dimse
        ae.network_timeout = self.timeouts.network
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self.receiver.on_c_store),
            (evt.EVT_CONN_OPEN, _on_conn_open),
        ]
        server = ae.make_server(
            sock.getsockname(), evt_handlers=handlers, server_class=_adopting(sock)
        )
        server.contexts = _CheaplyCopiedContexts(server.contexts)
        ae._servers.append(server)  # so that the server's shutdown and the AE's find it
        threading.Thread(
            target=server.serve_forever, name=f"storage-scp-{self.local.port}", daemon=True
        ).start()
        self._server = server
        self._ae = ae
        LOGGER.info(
            "Storage SCP %s listening on %s:%d, writing to %s",
            self.local.ae_title,
            self.local.bind_address,
            self.local.port,
            self.storage,
        )
        return self

    def stop(self) -> None:
        """Stop listening and end the associations in progress."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._ae is not None:
            self._ae.shutdown()
            self._ae = None

    def __enter__(self) -> StorageSCP:
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()


def _adopting(sock: socket.socket) -> type[ThreadedAssociationServer]:
    """A threaded association server class serving ``sock`` instead of binding its own."""

    class AdoptingServer(ThreadedAssociationServer):
        def server_bind(self) -> None:
            if self.socket is not None:
                self.socket.close()  # the one socketserver created
            self.socket = sock
            self.server_address = sock.getsockname()

        def server_activate(self) -> None:
            """``sock`` already listens."""

        def server_close(self) -> None:
            """Close this process's handle only: a ``shutdown()`` of a listening
            socket would stop it listening in every process sharing it."""
            if self.socket is not None:
                self.socket.close()

    return AdoptingServer


def _on_conn_open(event: evt.Event) -> None:
    set_nodelay(event.assoc)


class _CheaplyCopiedContexts(list[PresentationContext]):
    """The server's supported contexts, copied without copying their UIDs.

    pynetdicom deep-copies the supported contexts for every association it
    accepts. With every storage SOP class and transfer syntax that is ~5,000
    UID objects (a ``str`` subclass, which ``deepcopy`` rebuilds one by one):
    ~120 ms of CPU per association, and a PACS opens one per C-MOVE, so per
    study. UIDs are immutable, so sharing them is safe; each context object
    and its list of transfer syntaxes is still a copy of its own.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> list[PresentationContext]:
        copies = []
        for context in self:
            duplicate = copy.copy(context)
            duplicate._transfer_syntax = list(context._transfer_syntax)
            copies.append(duplicate)
        return copies
