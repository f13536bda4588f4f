"""The ``c-move`` transport: C-FIND finds, C-MOVE asks the PACS to send to pacsflow's receiver.

The PACS opens associations to pacsflow's receiver (the storage SCP service
of :mod:`pacsflow.net.receiver_service`, in processes of its own), so it
must know pacsflow's AE title as a move destination and reach the local
port. The receiver belongs to this transport: :meth:`CMove.run_scope` holds a
lease on it for a run (starting it when none serves the storage folder), and
:meth:`CMove.retrieve`, inside a run scope, first replaces a receiver that died
since the run began. Outside a run scope the caller provides the storage SCP
(e.g. :class:`~pacsflow.net.storage.StorageSCP`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from pacsflow.net.move import MoveResult, move_study
from pacsflow.net.receiver_lease import ReceiverLease, ensure_receiver
from pacsflow.net.transports.dimse import DimseTransport
from pacsflow.net.transports.interface import NO_OPTIONS, PacsLink, RetrieveOptions, SiteNeeds

__all__ = ["CMove", "transport"]

_SCOPES: Counter[Path] = Counter()
"""The storage folders of this process's open run scopes, and how many each."""
_SCOPES_LOCK = threading.Lock()


@contextmanager
def _leased(link: PacsLink, storage: Path) -> Iterator[None]:
    folder = storage.resolve()
    with ReceiverLease(link.local, storage, link.node.ae_title):
        with _SCOPES_LOCK:
            _SCOPES[folder] += 1
        try:
            yield
        finally:
            with _SCOPES_LOCK:
                _SCOPES[folder] -= 1
                if _SCOPES[folder] <= 0:
                    del _SCOPES[folder]


def _in_run_scope(storage: Path) -> bool:
    with _SCOPES_LOCK:
        return _SCOPES[storage.resolve()] > 0


class CMove(DimseTransport):
    """C-FIND finds, C-MOVE retrieves to pacsflow's receiver (see the module)."""

    name = "c-move"
    label = "C-MOVE"
    needs = SiteNeeds(dimse_node=True, web_url=False, receiver=True)

    def run_scope(self, link: PacsLink, storage: Path) -> AbstractContextManager[None]:
        """While the block lasts, pacsflow's receiver serves ``storage`` for the PACS and stays.

        The receiver serving the folder is reused (started when none does) and
        leased (see :class:`~pacsflow.net.receiver_lease.ReceiverLease`); each
        :meth:`retrieve` into ``storage`` meanwhile checks it first.

        Raises:
            The errors of :func:`~pacsflow.net.receiver_lease.ensure_receiver`, on entry.
        """
        return _leased(link, storage)

    def retrieve(
        self, link: PacsLink, storage: Path, study_uid: str, options: RetrieveOptions = NO_OPTIONS
    ) -> MoveResult:
        """C-MOVE the study (or only ``options.series_uids``) to pacsflow's AE title.

        Inside a :meth:`run_scope` for ``storage``, a receiver that died since the
        run began is replaced first. The files are written by the receiver (another
        process): ``options.arrivals`` stays empty, the ingest reads them.

        Raises:
            The errors of :func:`~pacsflow.net.receiver_lease.ensure_receiver` and
            :func:`~pacsflow.net.move.move_study`.
        """
        if _in_run_scope(storage):
            ensure_receiver(link.local, storage, link.node.ae_title)
        return move_study(
            link.local,
            link.node,
            study_uid,
            link.local.ae_title,
            series_uids=options.series_uids,
            timeouts=link.timeouts,
        )


transport = CMove()
