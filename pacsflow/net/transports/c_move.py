"""The ``c-move`` transport: C-FIND finds, C-MOVE asks the PACS to send to pacsflow's receiver.

The PACS opens associations to pacsflow's receiver (the storage SCP service
of :mod:`pacsflow.net.receiver_service`, in processes of its own), so it
must know pacsflow's AE title as a move destination and reach the local
port. The receiver belongs to this transport: :func:`run_scope` holds a
lease on it for a run (starting it when none serves the storage folder), and
:func:`retrieve`, inside a run scope, first replaces a receiver that died
since the run began. Outside a run scope the caller provides the storage SCP
(e.g. :class:`~pacsflow.net.storage.StorageSCP`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from pacsflow.ingest.arrivals import Arrivals
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.move import MoveResult, move_study
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.receiver_lease import ReceiverLease, ensure_receiver
from pacsflow.net.transports.dimse import (
    check_node,
    describe,
    echo,
    echo_report,
    query_channel,
    query_label,
)
from pacsflow.net.transports.interface import SiteNeeds

__all__ = [
    "check_node",
    "describe",
    "echo",
    "echo_report",
    "label",
    "name",
    "needs",
    "query_channel",
    "query_label",
    "retrieve",
    "run_scope",
]

name = "c-move"
label = "C-MOVE"
needs = SiteNeeds(dimse_node=True, web_url=False, receiver=True)

_SCOPES: Counter[Path] = Counter()
"""The storage folders of this process's open run scopes, and how many each."""
_SCOPES_LOCK = threading.Lock()


def run_scope(local: LocalAE, storage: Path, node: PacsNode) -> AbstractContextManager[None]:
    """While the block lasts, pacsflow's receiver serves ``storage`` for ``node`` and stays.

    The receiver serving the folder is reused (started when none does) and
    leased (see :class:`~pacsflow.net.receiver_lease.ReceiverLease`); each
    :func:`retrieve` into ``storage`` meanwhile checks it first.

    Raises:
        The errors of :func:`~pacsflow.net.receiver_lease.ensure_receiver`, on entry.
    """
    return _leased(local, storage, node)


@contextmanager
def _leased(local: LocalAE, storage: Path, node: PacsNode) -> Iterator[None]:
    folder = storage.resolve()
    with ReceiverLease(local, storage, node.ae_title):
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


def retrieve(
    local: LocalAE,
    node: PacsNode,
    storage: Path,
    study_uid: str,
    *,
    series_uids: Sequence[str] = (),
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
    arrivals: Arrivals | None = None,
) -> MoveResult:
    """C-MOVE the study (or only ``series_uids``) to pacsflow's AE title.

    Inside a :func:`run_scope` for ``storage``, a receiver that died since the
    run began is replaced first. The files are written by the receiver (another
    process): ``arrivals`` stays empty, the ingest reads them.

    Raises:
        The errors of :func:`~pacsflow.net.receiver_lease.ensure_receiver` and
        :func:`~pacsflow.net.move.move_study`.
    """
    if _in_run_scope(storage):
        ensure_receiver(local, storage, node.ae_title)
    return move_study(
        local, node, study_uid, local.ae_title, series_uids=series_uids, timeouts=timeouts
    )
