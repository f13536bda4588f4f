"""The transports: how studies are found and retrieved from a PACS, one module each.

:mod:`~pacsflow.net.transports.registry` names them and answers
:func:`~pacsflow.net.transports.registry.transport_for`; each module
(:mod:`~pacsflow.net.transports.c_move`, :mod:`~pacsflow.net.transports.c_get`,
:mod:`~pacsflow.net.transports.dicomweb`) holds one ``transport`` implementing
:class:`~pacsflow.net.transports.interface.PacsTransport` over the protocol
modules below it (``net/move.py``, ``net/get.py``, ``net/dicomweb/``). A new
transport is a new module here and its name in the registry; no caller
compares transport names.
"""
