"""C-ECHO: is the PACS there, and does it accept pacsflow's AE (or its DICOMweb credentials)?"""

from __future__ import annotations

import time

from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from pacsflow.net.association import DimseFailureError, DimseTimeoutError, open_association
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts

__all__ = ["echo"]


def echo(
    local: LocalAE,
    node: PacsNode,
    *,
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
) -> float:
    """Send a C-ECHO to ``node``; return the round trip in seconds.

    A ``dicomweb`` node is asked a one-answer QIDO-RS query instead, which
    also checks pacsflow's credentials (``web``).

    Raises:
        DicomWebAuthError / DicomWebError / DicomWebBusyError: the DICOMweb
            server refused the query (see :class:`DicomWebClient`).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
        DimseFailureError: the PACS answered with a non-success status.
    """
    if node.transport == "dicomweb":
        with DicomWebClient(node.web_url, web) as client:
            started = time.perf_counter()
            client.get_json(client.path("studies"), {"limit": "1"})
            return time.perf_counter() - started
    with open_association(local, node, [Verification], timeouts=timeouts) as assoc:
        started = time.perf_counter()
        status = assoc.send_c_echo()
        elapsed = time.perf_counter() - started
    if not status or "Status" not in status:
        raise DimseTimeoutError(f"{node} did not answer the C-ECHO in time")
    code = int(status.Status)
    if code != 0x0000:
        raise DimseFailureError(f"{node} answered the C-ECHO with status 0x{code:04X}", code)
    return elapsed
