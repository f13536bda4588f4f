"""Echo: is the PACS there, and does it accept pacsflow's queries?

A C-ECHO alone proves little: Orthanc, like many PACS, answers any calling
AE title's C-ECHO, then aborts the association at its first C-FIND when that
AE title is not among its known modalities. So :func:`echo` sends a C-ECHO,
then, on the same association, a one-answer C-FIND that cannot match (a
study-level query for the nil-UUID StudyInstanceUID, asking for that key
only), and reports a refused query as :class:`QueriesRefusedError`.
"""

from __future__ import annotations

import time

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from pacsflow.errors import PermanentError
from pacsflow.net.association import PendingTally, c_find_answers, open_association
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dimse_errors import AssociationAbortedError, DimseFailureError, DimseTimeoutError
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for

__all__ = [
    "PROBE_STUDY_UID",
    "QueriesRefusedError",
    "dimse_echo",
    "echo",
    "probe_identifier",
    "web_echo",
]

PROBE_STUDY_UID = "2.25.0"
"""The StudyInstanceUID the probing C-FIND asks for: the nil UUID's, which no study has."""

_FIND = StudyRootQueryRetrieveInformationModelFind
_PROBE = "the probing C-FIND"


class QueriesRefusedError(PermanentError):
    """The PACS answers the C-ECHO but refuses pacsflow's C-FIND (aborts, or a Failure status).

    Its configuration must change (pacsflow's AE title allowed to query): a
    retry meets the same answer.
    """


def probe_identifier() -> Dataset:
    """A STUDY-level C-FIND identifier that matches no study and asks for StudyInstanceUID only."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = PROBE_STUDY_UID
    return ds


def _allow_hint(local: LocalAE) -> str:
    return (
        f"add {local.ae_title} to the PACS's known modalities "
        "(Orthanc: DicomModalities), allowed to query"
    )


def _check_echo(node: PacsNode, assoc: Association) -> float:
    started = time.perf_counter()
    status = assoc.send_c_echo()
    elapsed = time.perf_counter() - started
    if not status or "Status" not in status:
        raise DimseTimeoutError(f"{node} did not answer the C-ECHO in time")
    code = int(status.Status)
    if code != 0x0000:
        raise DimseFailureError(f"{node} answered the C-ECHO with status 0x{code:04X}", code)
    return elapsed


def _check_find(local: LocalAE, node: PacsNode, assoc: Association) -> None:
    if not any(str(cx.abstract_syntax) == _FIND for cx in assoc.accepted_contexts):
        raise QueriesRefusedError(
            f"{node} answered the C-ECHO, but refused to negotiate Study Root C-FIND "
            f"with {local.ae_title}: {_allow_hint(local)}"
        )
    try:
        _, code = c_find_answers(
            assoc, PendingTally(assoc), node, probe_identifier(), _FIND, _PROBE
        )
    except AssociationAbortedError:
        raise QueriesRefusedError(
            f"{node} answered the C-ECHO, but aborted our C-FIND: {_allow_hint(local)}"
        ) from None
    if code != 0x0000:
        raise QueriesRefusedError(
            f"{node} answered the C-ECHO, but refused our C-FIND with status "
            f"0x{code:04X}: {_allow_hint(local)}"
        )


def echo(
    local: LocalAE,
    node: PacsNode,
    *,
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
) -> float:
    """Check that ``node`` answers and accepts pacsflow's queries, by its transport; return
    the round trip in seconds (:func:`dimse_echo` or :func:`web_echo`).

    Raises:
        The errors of :func:`dimse_echo` or :func:`web_echo`.
    """
    return transport_for(node).echo(PacsLink(local, node, timeouts, web))


def dimse_echo(local: LocalAE, node: PacsNode, *, timeouts: Timeouts | None = None) -> float:
    """C-ECHO ``node``, then check that it accepts a C-FIND; return the C-ECHO's round trip
    in seconds.

    Raises:
        QueriesRefusedError: the PACS answered the C-ECHO but refused the C-FIND
            (aborted the association, or answered with a non-success status).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
        DimseFailureError: the PACS answered the C-ECHO with a non-success status.
    """
    with open_association(local, node, [Verification, _FIND], timeouts=timeouts) as assoc:
        elapsed = _check_echo(node, assoc)
        _check_find(local, node, assoc)
    return elapsed


def web_echo(node: PacsNode, *, web: WebAccess | None = None) -> float:
    """Ask ``node``'s DICOMweb service a one-answer QIDO-RS query, which also checks
    pacsflow's credentials (``web``); return its round trip in seconds.

    Raises:
        DicomWebAuthError / DicomWebError / DicomWebBusyError: the DICOMweb
            server refused the query (see :class:`DicomWebClient`).
        PacsUnreachableError: it could not be reached (retryable).
    """
    with DicomWebClient(node.web_url, web) as client:
        started = time.perf_counter()
        client.get_json(client.path("studies"), {"limit": "1"})
        return time.perf_counter() - started
