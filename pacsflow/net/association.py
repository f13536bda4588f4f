"""Opening an association to a PACS with timeouts, TCP_NODELAY, and errors that say what failed."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ASSOCIATE_RJ
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.presentation import PresentationContext

from pacsflow.errors import PacsflowError, RetryableError
from pacsflow.net.dimse_errors import (
    AssociationAbortedError,
    AssociationBusyError,
    AssociationRejectedError,
    DimseResponseLostError,
    DimseTimeoutError,
    PacsUnreachableError,
    calling_ae_refused,
)
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts

LOGGER = logging.getLogger(__name__)

_PENDING_STATUSES = (0xFF00, 0xFF01)
_REJECTED_TRANSIENT = 0x02  # A-ASSOCIATE-RJ result; 0x01 is permanent
_SERVICE_USER = 0x01  # A-ASSOCIATE-RJ source: the called application itself
_CALLING_AE_UNKNOWN = 0x03  # its reason "calling AE title not recognised" (PS3.8 9.3.4)

__all__ = [
    "PendingTally",
    "c_find_answers",
    "check_none_lost",
    "keep_responses_for_requests",
    "no_status_error",
    "open_association",
    "set_nodelay",
]


class PendingTally:
    """Counts the pending responses pynetdicom decoded on an association.

    Compared with the responses the caller got, it shows when one was lost
    (see :class:`DimseResponseLostError`).
    """

    def __init__(self, assoc: Association) -> None:
        self._lock = threading.Lock()
        self._count = 0
        assoc.bind(evt.EVT_DIMSE_RECV, self._on_message)

    def _on_message(self, event: evt.Event) -> None:
        command = getattr(event.message, "command_set", None)
        if command is not None and command.get("Status") in _PENDING_STATUSES:
            with self._lock:
                self._count += 1

    def take(self) -> int:
        """The pending responses counted since the last call."""
        with self._lock:
            count, self._count = self._count, 0
        return count


def check_none_lost(tally: PendingTally, received: int, node: PacsNode, what: str) -> None:
    """Raise :class:`DimseResponseLostError` if pynetdicom decoded more pending answers
    than the caller ``received``.
    """
    decoded = tally.take()
    if decoded > received:
        raise DimseResponseLostError(
            f"pynetdicom lost {decoded - received} of {decoded} answers from {node} "
            f"to {what}; the query must be repeated"
        )


def c_find_answers(
    assoc: Association,
    tally: PendingTally,
    node: PacsNode,
    query: Dataset,
    model: str,
    what: str,
) -> tuple[list[Dataset], int]:
    """Send one C-FIND; its answers and its final (non-pending) status code.

    The caller decides what the final status means (Success, Cancel, Failure).

    Args:
        model: the query/retrieve information model (SOP class UID).
        what: the request, as it should read in messages (e.g. "the C-FIND for ...").

    Raises:
        AssociationAbortedError / DimseTimeoutError: no status (peer abort or timeout).
        DimseResponseLostError: pynetdicom lost an answer before it reached us.
    """
    answers: list[Dataset] = []
    pending = 0
    tally.take()
    sent = time.monotonic()
    for status, identifier in assoc.send_c_find(query, model):
        if not status or "Status" not in status:
            raise no_status_error(assoc, node, sent, what)
        code = int(status.Status)
        if code in _PENDING_STATUSES:
            pending += 1
            if identifier is not None:
                answers.append(identifier)
            sent = time.monotonic()  # the DIMSE timeout runs from the last response
            continue
        check_none_lost(tally, pending, node, what)
        return answers, code
    raise DimseTimeoutError(f"{node} ended {what} without a final status")


def no_status_error(assoc: Association, node: PacsNode, sent: float, what: str) -> RetryableError:
    """The error for a DIMSE request that got an empty status: a peer abort, or our timeout.

    pynetdicom returns the empty status at once when the peer aborts, and flags
    the abort only a moment later, so the time waited (``sent`` is the
    ``time.monotonic()`` of the request) tells the two apart.

    Args:
        what: the request, as it should read in the message (e.g. "the C-FIND for ...").
    """
    if time.monotonic() - sent < 0.9 * float(assoc.dimse_timeout or 0):
        return AssociationAbortedError(
            f"{node} aborted the association during {what}; "
            "does the PACS allow pacsflow's AE title to query and retrieve?"
        )
    return DimseTimeoutError(f"{node} did not answer {what} in time")


def keep_responses_for_requests(assoc: Association) -> None:
    """Stop the association's own thread from taking DIMSE messages off the queue.

    pynetdicom runs a reactor thread beside each association that serves any
    DIMSE message it finds queued. Each ``send_*`` call pauses it first, but
    the pause can miss: right after a request ends, the reactor may have
    passed its checkpoint and not yet said it runs again, so the next request
    believes it paused. When the PACS answers fast, the reactor then takes
    that response, logs "Received unexpected C-FIND service message", and the
    request waits until the PACS aborts the association (Orthanc: after 30 s).
    It happened about once in 400 C-ECHO + C-FIND pairs on a loaded machine,
    and to any two requests in a row (the windows of a find, a cohort's items).

    pacsflow's associations only ever send requests (C-GET's C-STOREs are
    served inside ``send_c_get``), so every message is a response the waiting
    request must get: the reactor's non-blocking reads are answered "nothing
    yet". Its other duties (a peer's release or abort, the network timeout)
    do not read DIMSE messages and go on.
    """
    take = assoc.dimse.get_msg

    def get_msg(block: bool = False) -> Any:
        if threading.current_thread() is assoc:  # the reactor runs as the association's thread
            return None, None
        return take(block)

    assoc.dimse.get_msg = get_msg  # type: ignore[method-assign]


def set_nodelay(assoc: Association) -> None:
    """Send each DIMSE message at once: with Nagle on, every exchange waits ~40 ms for an ACK."""
    sock = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _unreachable_reason(node: PacsNode, timeout: float) -> str | None:
    """Why a plain TCP connection to ``node`` fails, or None when it succeeds."""
    try:
        with socket.create_connection((node.host, node.port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


class _RejectionWatch:
    """Keeps the A-ASSOCIATE-RJ the peer sent, if any.

    When the peer closes the connection right after rejecting (dcmqrscp does,
    and Orthanc under load), pynetdicom often reports an abort instead; the PDU
    itself, seen as it is decoded, still tells a rejection and its reason.
    """

    def __init__(self) -> None:
        self.rejection: A_ASSOCIATE_RJ | None = None
        self.assoc: Association | None = None  # known once the connection is open

    def on_open(self, event: evt.Event) -> None:
        self.assoc = event.assoc

    def on_pdu(self, event: evt.Event) -> None:
        pdu = event.pdu
        if isinstance(pdu, A_ASSOCIATE_RJ):
            self.rejection = pdu


def _describe_failure(
    local: LocalAE, node: PacsNode, limits: Timeouts, rejection: A_ASSOCIATE_RJ | None
) -> PacsflowError:
    if rejection is not None:
        why = rejection.reason_str
        if rejection.result == _REJECTED_TRANSIENT:
            return AssociationBusyError(f"{node} rejected the association for now ({why})")
        if rejection.source == _SERVICE_USER and rejection.reason_diagnostic == _CALLING_AE_UNKNOWN:
            return calling_ae_refused(local, node, "rejected")
        return AssociationRejectedError(
            f"{node} rejected the association ({why}); check the called AE title and "
            f"that the PACS lists pacsflow's AE title {local.ae_title}, host and port"
        )
    # pynetdicom reports a refused connection as an abort: tell them apart.
    reason = _unreachable_reason(node, limits.connection)
    if reason is not None:
        return PacsUnreachableError(f"{node} cannot be reached ({reason}); is the PACS running?")
    return AssociationAbortedError(
        f"{node} aborted the association while it was set up; check the "
        "called AE title and that the PACS lists pacsflow's AE title, host and port"
    )


def _stop_set_up(ae: AE, opened: Association | None) -> None:
    """Stop the DUL threads of ``ae``'s association, whose set-up was interrupted.

    A DUL thread is not a daemon: left running, it keeps the process alive for
    good once the command has ended. It runs from the start of the set-up, and
    the watch knows the association only once the connection is open
    (``opened``), so the threads are looked for, not only the association.
    """
    if opened is not None:
        opened.abort()  # tells the peer
    for thread in threading.enumerate():
        if isinstance(thread, DULServiceProvider) and thread.assoc.ae is ae:
            thread.kill_dul()  # its loop ends at once, or once a connect under way ends
            if thread.socket is not None:
                thread.socket.close()


@contextmanager
def open_association(
    local: LocalAE,
    node: PacsNode,
    abstract_syntaxes: Sequence[str],
    *,
    timeouts: Timeouts | None = None,
    contexts: Sequence[PresentationContext] = (),
    roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
    max_pdu: int | None = None,
) -> Iterator[Association]:
    """An established association to ``node``, released (or aborted) when the block ends.

    Args:
        abstract_syntaxes: SOP classes proposed with the default transfer syntaxes.
        contexts: more presentation contexts, proposed as given (C-GET's storage ones).
        roles: SCP/SCU role selections (C-GET: pacsflow is the storage SCP).
        handlers: event handlers bound to the association (C-GET's C-STORE).
        max_pdu: the largest PDU pacsflow accepts (0: no limit); pynetdicom's default if None.

    Raises:
        AssociationRejectedError: the PACS rejected it for good (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError:
            the association could not be established now (retryable).
    """
    limits = timeouts or Timeouts()
    ae = AE(ae_title=local.ae_title)
    ae.connection_timeout = limits.connection
    ae.acse_timeout = limits.acse
    ae.dimse_timeout = limits.dimse
    ae.network_timeout = limits.network
    for syntax in abstract_syntaxes:
        ae.add_requested_context(syntax)
    for context in contexts:
        ae.add_requested_context(str(context.abstract_syntax), context.transfer_syntax)
    watch = _RejectionWatch()
    extra: dict[str, Any] = {} if max_pdu is None else {"max_pdu": max_pdu}
    try:
        assoc = ae.associate(
            node.host,
            node.port,
            ae_title=node.ae_title,
            ext_neg=list(roles) or None,
            evt_handlers=[
                (evt.EVT_CONN_OPEN, watch.on_open),
                (evt.EVT_PDU_RECV, watch.on_pdu),
                *handlers,
            ],
            **extra,
        )
    except BaseException:  # Ctrl-C during the set-up: stop pynetdicom's thread
        _stop_set_up(ae, watch.assoc)
        ae.shutdown()
        raise
    if not assoc.is_established:
        raise _describe_failure(local, node, limits, watch.rejection)
    keep_responses_for_requests(assoc)
    set_nodelay(assoc)
    finished = False
    try:
        yield assoc
        finished = True
    finally:
        if assoc.is_established:
            if finished:
                assoc.release()
            else:
                assoc.abort()
        ae.shutdown()
