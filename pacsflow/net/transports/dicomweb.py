"""The ``dicomweb`` transport: QIDO-RS finds, WADO-RS retrieves, over HTTP(S).

Needs the PACS's DICOMweb base URL and the site's
:class:`~pacsflow.net.dicomweb.access.WebAccess` (bearer token or basic
authentication, TLS trust); no DICOM association, no inbound port. A WADO-RS
response is streamed part by part to files, their rows made on arrival
(:mod:`pacsflow.net.dicomweb.wado`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.qido import DEFAULT_PAGE_SIZE
from pacsflow.net.dicomweb.wado import retrieve_study_wado
from pacsflow.net.echo import web_echo
from pacsflow.net.move import MoveResult
from pacsflow.net.nodes import PacsNode
from pacsflow.net.queries import Ask, web_query_channel
from pacsflow.net.storage_files import prepare_storage
from pacsflow.net.transports.interface import (
    NO_OPTIONS,
    PacsLink,
    RetrieveOptions,
    SiteNeeds,
    TransportDefaults,
)

__all__ = ["DicomWeb", "transport"]


class DicomWeb(TransportDefaults):
    """QIDO-RS finds, WADO-RS retrieves over pacsflow's own connections (see the module)."""

    name = "dicomweb"
    label = "WADO-RS retrieval"
    query_label = "QIDO-RS"
    needs = SiteNeeds(dimse_node=False, web_url=True, receiver=False)

    def check_node(self, node: PacsNode) -> None:
        """Raise ValueError when ``node`` has no DICOMweb URL."""
        if node.dicomweb_url is None:
            raise ValueError("the dicomweb transport needs the PACS's DICOMweb URL")

    def describe(self, node: PacsNode) -> str:
        """The DICOMweb base URL."""
        return node.web_url

    def echo(self, link: PacsLink) -> float:
        """A one-answer QIDO-RS query (:func:`~pacsflow.net.echo.web_echo`)."""
        return web_echo(link.node, web=link.web)

    def echo_report(self, node: PacsNode, seconds: float) -> str:
        """``<url> answered a QIDO-RS query in <ms> ms; queries accepted``."""
        return f"{node} answered a QIDO-RS query in {seconds * 1000:.1f} ms; queries accepted"

    def query_channel(
        self, link: PacsLink, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AbstractContextManager[Ask]:
        """QIDO-RS over one connection (:func:`~pacsflow.net.queries.web_query_channel`)."""
        return web_query_channel(link.node, web=link.web, page_size=page_size)

    def retrieve(
        self, link: PacsLink, storage: Path, study_uid: str, options: RetrieveOptions = NO_OPTIONS
    ) -> MoveResult:
        """WADO-RS the study (or one request per ``options.series_uids``) into ``storage``.

        Raises:
            The errors of :func:`~pacsflow.net.dicomweb.wado.retrieve_study_wado`.
        """
        prepare_storage(storage)
        with DicomWebClient(link.node.web_url, link.web) as client:
            return retrieve_study_wado(
                client,
                storage,
                study_uid,
                series_uids=options.series_uids,
                arrivals=options.arrivals,
            )


transport = DicomWeb()
