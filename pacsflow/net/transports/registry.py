"""The transports by name: the one place a transport is registered.

A transport is a module of :mod:`pacsflow.net.transports` whose
``transport`` implements :class:`~pacsflow.net.transports.interface.PacsTransport`.
Adding one: write its module, add its name to :data:`Transport` and its
module's ``transport`` to :func:`_by_name`. Callers ask :func:`transport_for`
and never compare names.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from pacsflow.net.nodes import PacsNode
    from pacsflow.net.transports.interface import PacsTransport

__all__ = ["DEFAULT_TRANSPORT", "TRANSPORTS", "Transport", "UnknownTransportError", "transport_for"]

Transport = Literal["c-move", "c-get", "dicomweb"]
"""How studies are found and retrieved from a PACS (see :class:`~pacsflow.net.nodes.PacsNode`)."""

TRANSPORTS: tuple[str, ...] = get_args(Transport)

DEFAULT_TRANSPORT: Transport = "c-move"


class UnknownTransportError(ValueError):
    """A transport name that is none of :data:`TRANSPORTS`."""


@cache
def _by_name() -> dict[str, PacsTransport]:
    # Imported here, not at the top: the transports import pacsflow.net.nodes,
    # which imports this module for the names.
    from pacsflow.net.transports import c_get, c_move, dicomweb

    transports: tuple[PacsTransport, ...] = (c_move.transport, c_get.transport, dicomweb.transport)
    return {transport.name: transport for transport in transports}


def transport_for(pacs_or_name: PacsNode | str) -> PacsTransport:
    """The transport of a PACS, or of that name.

    Raises:
        UnknownTransportError: the name is none of :data:`TRANSPORTS`.
    """
    name = pacs_or_name if isinstance(pacs_or_name, str) else pacs_or_name.transport
    try:
        return _by_name()[name]
    except KeyError:
        raise UnknownTransportError(
            f"transport {name!r} is not one of {', '.join(TRANSPORTS)}"
        ) from None
