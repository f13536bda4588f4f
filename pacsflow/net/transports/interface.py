"""What every transport does: echo, queries, retrieval, its labels and what it needs of the site.

A transport is a module holding one instance, ``transport``, of a class
implementing :class:`PacsTransport` (mypy checks it against the protocol in
the registry); callers get it from
:func:`~pacsflow.net.transports.registry.transport_for` and never compare
transport names.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pacsflow.ingest.arrivals import Arrivals
    from pacsflow.net.dicomweb.access import WebAccess
    from pacsflow.net.move import MoveResult
    from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
    from pacsflow.net.queries import Ask

__all__ = ["PacsLink", "PacsTransport", "RetrieveOptions", "SiteNeeds", "TransportDefaults"]


@dataclass(frozen=True)
class SiteNeeds:
    """What a transport needs of the site, besides pacsflow's AE title and the storage folder.

    Args:
        dimse_node: the PACS's AE title, host and port are used (C-ECHO, C-FIND, ...),
            so the site must give them; otherwise they only name the PACS.
        web_url: the PACS's DICOMweb base URL, and the site's
            :class:`~pacsflow.net.dicomweb.access.WebAccess` (headers, TLS trust).
        receiver: pacsflow's receiver (storage SCP) on the local port, which
            the PACS must reach and know as a move destination (pacsflow's AE title).
    """

    dimse_node: bool
    web_url: bool
    receiver: bool


@dataclass(frozen=True)
class PacsLink:
    """Who talks to which PACS, and how: what every exchange of a transport takes.

    Args:
        local: pacsflow's AE title (and receiver port, for C-MOVE).
        node: the PACS.
        timeouts: the DIMSE timeouts (DIMSE transports; default timeouts when None).
        web: headers and TLS trust (the ``dicomweb`` transport).
    """

    local: LocalAE
    node: PacsNode
    timeouts: Timeouts | None = None
    web: WebAccess | None = None


@dataclass(frozen=True)
class RetrieveOptions:
    """How :meth:`PacsTransport.retrieve` transfers a study, besides where from and to.

    Args:
        series_uids: only these series (all of the study when empty).
        arrivals: where the rows of what arrives go, when the transport
            receives in this process.
    """

    series_uids: Sequence[str] = ()
    arrivals: Arrivals | None = None


NO_OPTIONS = RetrieveOptions()
"""The whole study, no arrivals."""


@runtime_checkable
class PacsTransport(Protocol):
    """One transport: the ``transport`` of a module of :mod:`pacsflow.net.transports`."""

    @property
    def name(self) -> str:
        """Its name in settings, e.g. ``c-move`` (one of the registry's ``TRANSPORTS``)."""
        ...

    @property
    def label(self) -> str:
        """The retrieval in messages, e.g. ``C-MOVE`` ("the C-MOVE ended with status ...")."""
        ...

    @property
    def query_label(self) -> str:
        """A query in messages, e.g. ``C-FIND`` or ``QIDO-RS``."""
        ...

    @property
    def needs(self) -> SiteNeeds:
        """What it needs of the site."""
        ...

    def check_node(self, node: PacsNode) -> None:
        """Raise ValueError (one sentence) when ``node`` lacks what this transport needs."""
        ...

    def describe(self, node: PacsNode) -> str:
        """How ``node`` is named in messages and logs (``str(node)``)."""
        ...

    def echo(self, link: PacsLink) -> float:
        """Check that the PACS answers and accepts pacsflow's queries; the round trip in seconds."""
        ...

    def echo_report(self, node: PacsNode, seconds: float) -> str:
        """The sentence saying that :meth:`echo` succeeded in ``seconds``."""
        ...

    def query_channel(self, link: PacsLink, page_size: int = ...) -> AbstractContextManager[Ask]:
        """An open channel answering study, series and image queries (see
        :mod:`pacsflow.net.queries`), closed when the block ends."""
        ...

    def run_scope(self, link: PacsLink, storage: Path) -> AbstractContextManager[None]:
        """What a run retrieving from the PACS into ``storage`` holds while it lasts
        (C-MOVE: pacsflow's receiver, leased); nothing for most transports."""
        ...

    def retrieve(
        self, link: PacsLink, storage: Path, study_uid: str, options: RetrieveOptions = NO_OPTIONS
    ) -> MoveResult:
        """Transfer the study (or only ``options.series_uids``) into
        ``<storage>/<study>/<series>/<sop>.dcm``; the rows of what arrives go to
        ``options.arrivals`` when the transport receives in this process.

        Raises:
            The transport's errors: :class:`~pacsflow.errors.RetryableError` for a
            transient failure, :class:`~pacsflow.errors.PermanentError` otherwise.
        """
        ...


class TransportDefaults:
    """What most transports do for two of :class:`PacsTransport`'s methods; a
    transport that does more overrides them."""

    def check_node(self, node: PacsNode) -> None:
        """Nothing more to check: :class:`~pacsflow.net.nodes.PacsNode` checked its fields."""

    def run_scope(self, link: PacsLink, storage: Path) -> AbstractContextManager[None]:
        """Nothing to hold: the images come on pacsflow's own association or connection."""
        return nullcontext()
