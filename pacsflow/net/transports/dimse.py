"""What the DIMSE transports (C-MOVE, C-GET) share: the node, C-ECHO and C-FIND.

Not a transport itself: :class:`~pacsflow.net.transports.c_move.CMove` and
:class:`~pacsflow.net.transports.c_get.CGet` are :class:`DimseTransport`\\ s.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from pacsflow.net.dicomweb.qido import DEFAULT_PAGE_SIZE
from pacsflow.net.echo import dimse_echo
from pacsflow.net.nodes import PacsNode
from pacsflow.net.queries import Ask, dimse_query_channel
from pacsflow.net.transports.interface import PacsLink, TransportDefaults

__all__ = ["DimseTransport"]


class DimseTransport(TransportDefaults):
    """C-ECHO and C-FIND on the PACS's AE title, host and port; a subclass retrieves."""

    query_label = "C-FIND"

    def describe(self, node: PacsNode) -> str:
        """``AE_TITLE@host:port``."""
        return f"{node.ae_title}@{node.host}:{node.port}"

    def echo(self, link: PacsLink) -> float:
        """A C-ECHO, then a C-FIND that matches nothing (:func:`~pacsflow.net.echo.dimse_echo`)."""
        return dimse_echo(link.local, link.node, timeouts=link.timeouts)

    def echo_report(self, node: PacsNode, seconds: float) -> str:
        """``<node> answered the C-ECHO in <ms> ms; C-FIND accepted``."""
        return f"{node} answered the C-ECHO in {seconds * 1000:.1f} ms; C-FIND accepted"

    def query_channel(
        self, link: PacsLink, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AbstractContextManager[Ask]:
        """C-FIND over one association (:func:`~pacsflow.net.queries.dimse_query_channel`)."""
        return dimse_query_channel(link.local, link.node, timeouts=link.timeouts)
