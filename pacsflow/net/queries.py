"""One way to ask study, series and image queries, whatever the PACS's transport.

A transport's ``query_channel`` (``transport_for(node).query_channel(...)``,
see :class:`~pacsflow.net.transports.interface.PacsTransport`) yields an
``ask(identifier, what)`` function answering a C-FIND identifier with its
answers and a final status: over one association (:func:`dimse_query_channel`,
C-FIND) or one HTTP connection (:func:`web_query_channel`, QIDO-RS). Date
windows, cohort items and a study's contents are queried through it, so the
transports share their logic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pydicom.dataset import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from pacsflow.net.association import PendingTally, c_find_answers, open_association
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.qido import DEFAULT_PAGE_SIZE, qido_answers
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts

__all__ = ["Ask", "dimse_query_channel", "web_query_channel"]

Ask = Callable[[Dataset, str], tuple[list[Dataset], int]]
"""``ask(identifier, what)``: the answers and the final status (0x0000, 0xFE00 cut short, ...).

``what`` names the query in messages, e.g. "the C-FIND for StudyDate=20240101".
"""


@contextmanager
def dimse_query_channel(
    local: LocalAE, node: PacsNode, *, timeouts: Timeouts | None = None
) -> Iterator[Ask]:
    """C-FIND over one association to ``node``, released when the block ends.

    Raises:
        The errors of :func:`~pacsflow.net.association.open_association`.
    """
    model = StudyRootQueryRetrieveInformationModelFind
    with open_association(local, node, [model], timeouts=timeouts) as assoc:
        tally = PendingTally(assoc)

        def ask_dimse(identifier: Dataset, what: str) -> tuple[list[Dataset], int]:
            return c_find_answers(assoc, tally, node, identifier, model, what)

        yield ask_dimse


@contextmanager
def web_query_channel(
    node: PacsNode, *, web: WebAccess | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[Ask]:
    """QIDO-RS over one HTTP connection to ``node``'s DICOMweb URL, closed when the block ends.

    Raises:
        Those of :class:`~pacsflow.net.dicomweb.client.DicomWebClient`, from ``ask``.
    """
    with DicomWebClient(node.web_url, web) as client:

        def ask_web(identifier: Dataset, what: str) -> tuple[list[Dataset], int]:
            return qido_answers(client, identifier, what, page_size=page_size)

        yield ask_web
