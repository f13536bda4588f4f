"""C-GET: the PACS sends the images back on pacsflow's own association.

For a PACS that cannot connect to pacsflow (no inbound port, NAT, a
firewall): no storage SCP is needed. pacsflow proposes the C-GET model plus
one storage context per SOP class the study holds (SOPClassesInStudy, asked
by a study-level query; pynetdicom's 120 common storage classes when the PACS
does not say), with every transfer syntax, in the SCP role: at most 128
contexts, the protocol's limit. It accepts PDUs of any size (``max_pdu=0``),
which the PACS then sends in fewer, larger pieces. The files are written as
the storage SCP writes them, synced per study rather than per file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import ALL_TRANSFER_SYNTAXES, build_context, build_role, evt
from pynetdicom.presentation import PresentationContext, StoragePresentationContexts
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet,
)

from pacsflow.dicom.values import is_valid_uid
from pacsflow.net.association import open_association
from pacsflow.net.move import MoveResult, retrieve_each
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.queries import Ask
from pacsflow.net.receiver import InstanceReceiver

LOGGER = logging.getLogger(__name__)

__all__ = ["MAX_STORAGE_CONTEXTS", "get_study", "study_sop_classes"]

MAX_STORAGE_CONTEXTS = 127
"""Storage contexts proposed at most: 128 presentation contexts, one for the C-GET model."""


def study_sop_classes(ask: Ask, study_uid: str) -> list[str]:
    """The SOP classes of the study's instances (SOPClassesInStudy); empty if the PACS
    does not say.
    """
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    query.SOPClassesInStudy = ""
    answers, _ = ask(query, f"the query of the SOP classes of study {study_uid}")
    classes: set[str] = set()
    for answer in answers:
        value = answer.get("SOPClassesInStudy")
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        classes.update(str(v).strip() for v in values if is_valid_uid(str(v).strip()))
    return sorted(classes)


def _storage_contexts(sop_classes: Sequence[str]) -> list[PresentationContext]:
    if not sop_classes or len(sop_classes) > MAX_STORAGE_CONTEXTS:
        classes = [str(c.abstract_syntax) for c in StoragePresentationContexts]
    else:
        classes = list(sop_classes)
    return [build_context(uid, ALL_TRANSFER_SYNTAXES) for uid in classes[:MAX_STORAGE_CONTEXTS]]


def get_study(
    local: LocalAE,
    node: PacsNode,
    study_uid: str,
    storage: Path,
    *,
    series_uids: Sequence[str] = (),
    sop_classes: Sequence[str] = (),
    timeouts: Timeouts | None = None,
) -> MoveResult:
    """C-GET the study (or one SERIES-level C-GET per ``series_uids``) into ``storage``.

    Args:
        sop_classes: the study's SOP classes (see :func:`study_sop_classes`);
            pynetdicom's common storage classes when empty.

    Returns:
        The final responses added up (Success, or Warning when sub-operations
        failed, e.g. an instance of a SOP class not proposed).

    Raises:
        DimseFailureError: a Failure, Refused or Cancel status (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    contexts = _storage_contexts(sop_classes)
    roles = [build_role(str(c.abstract_syntax), scp_role=True) for c in contexts]
    receiver = InstanceReceiver(storage, sync_each=False)
    model = StudyRootQueryRetrieveInformationModelGet
    with open_association(
        local,
        node,
        [model],
        timeouts=timeouts,
        contexts=contexts,
        roles=roles,
        handlers=[(evt.EVT_C_STORE, receiver.on_c_store)],
        max_pdu=0,
    ) as assoc:
        return retrieve_each(
            assoc,
            node,
            "C-GET",
            study_uid,
            series_uids,
            lambda identifier: assoc.send_c_get(identifier, model),
        )
