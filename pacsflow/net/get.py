"""C-GET: the PACS sends the images back on pacsflow's own association.

For a PACS that cannot connect to pacsflow (no inbound port, NAT, a
firewall): no storage SCP is needed. pacsflow proposes the C-GET model plus
one storage context per (SOP class, transfer syntax) the study may need
(:mod:`pacsflow.net.get_contexts`), compressed syntaxes included, in the SCP
role: at most 128 contexts, the protocol's limit. The PACS sends each
instance as stored, and it is written as received, never transcoded. It
accepts PDUs of any size (``max_pdu=0``), which the PACS then sends in
fewer, larger pieces. The files are written as the storage SCP writes them,
synced per study rather than per file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pynetdicom import build_role, evt
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet,
)

from pacsflow.errors import PermanentError
from pacsflow.ingest.arrivals import Arrivals
from pacsflow.net.association import open_association
from pacsflow.net.dimse_errors import DimseFailureError
from pacsflow.net.get_contexts import (
    MAX_STORAGE_CONTEXTS,
    StudyKinds,
    plan_storage_contexts,
    study_kinds,
)
from pacsflow.net.move import MoveResult, retrieve_each
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.receiver import InstanceReceiver

LOGGER = logging.getLogger(__name__)

__all__ = [
    "MAX_STORAGE_CONTEXTS",
    "StorageNotNegotiatedError",
    "get_study",
    "study_kinds",
]


class StorageNotNegotiatedError(PermanentError):
    """A C-GET failed for instances whose (SOP class, transfer syntax) did not fit in the
    association's presentation contexts."""


def get_study(
    local: LocalAE,
    node: PacsNode,
    study_uid: str,
    storage: Path,
    *,
    series_uids: Sequence[str] = (),
    sop_classes: Sequence[str] = (),
    kinds: StudyKinds | None = None,
    timeouts: Timeouts | None = None,
    arrivals: Arrivals | None = None,
) -> MoveResult:
    """C-GET the study (or one SERIES-level C-GET per ``series_uids``) into ``storage``.

    Args:
        sop_classes: the study's SOP classes, each proposed in the usual transfer
            syntaxes; used when ``kinds`` is None.
        kinds: the study's (SOP class, transfer syntax) pairs (see :func:`study_kinds`);
            pynetdicom's 120 common storage classes, each offering every syntax, when
            neither is given.
        arrivals: keeps each received instance's rows for the ingest (see
            :mod:`pacsflow.ingest.arrivals`).

    Returns:
        The final responses added up (Success, or Warning when sub-operations
        failed, e.g. an instance of a SOP class not proposed).

    Raises:
        StorageNotNegotiatedError: instances failed and some pairs could not be
            proposed (128-context limit): the message names them (permanent).
        DimseFailureError: a Failure, Refused or Cancel status (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    if kinds is None:
        kinds = dict.fromkeys(((c, None) for c in sop_classes), 0)
    plan = plan_storage_contexts(kinds)
    untold = plan.left_out_message()
    if untold:
        LOGGER.warning("C-GET of study %s from %s: %s", study_uid, node, untold)
    roles = [build_role(uid, scp_role=True) for uid in _classes(plan.contexts)]
    receiver = InstanceReceiver(storage, sync_each=False, arrivals=arrivals)
    model = StudyRootQueryRetrieveInformationModelGet
    with open_association(
        local,
        node,
        [model],
        timeouts=timeouts,
        contexts=plan.contexts,
        roles=roles,
        handlers=[(evt.EVT_C_STORE, receiver.on_c_store)],
        max_pdu=0,
    ) as assoc:
        try:
            result = retrieve_each(
                assoc,
                node,
                "C-GET",
                study_uid,
                series_uids,
                lambda identifier: assoc.send_c_get(identifier, model),
            )
        except DimseFailureError as exc:
            if not untold:
                raise
            raise StorageNotNegotiatedError(f"{exc}: {untold}") from exc
    if untold and not result.succeeded:
        raise StorageNotNegotiatedError(
            f"{node} failed {result.failed} instances of the C-GET of study {study_uid}: {untold}"
        )
    return result


def _classes(contexts: Sequence[PresentationContext]) -> list[str]:
    """The SOP classes of ``contexts``, once each (one role item per abstract syntax)."""
    return list(dict.fromkeys(str(c.abstract_syntax) for c in contexts))
