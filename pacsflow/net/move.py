"""C-MOVE: ask the PACS to send a study (or some of its series) to pacsflow's storage SCP.

The final response tells how many sub-operations (C-STOREs to the
destination) completed, failed or ended with a warning. Some PACS (Orthanc)
report every failure as 0xC000 with all counters at zero, even after sending
part of the study: only the images actually received tell what arrived, so
callers count those rather than trust the counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelMove,
)

from pacsflow.net.association import no_status_error, open_association
from pacsflow.net.dimse_errors import DimseFailureError, DimseTimeoutError
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts, validate_ae_title

LOGGER = logging.getLogger(__name__)

__all__ = [
    "MoveResult",
    "final_response",
    "move_meaning",
    "move_study",
    "retrieve_each",
    "retrieve_identifier",
]

_PENDING = 0xFF00
_WARNING = 0xB000
_MEANINGS = {
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0xA701: "out of resources: the PACS cannot count the matches",
    0xA702: "out of resources: the PACS cannot send the images "
    "(is the move destination reachable from the PACS?)",
    0xA801: "move destination unknown: the PACS must list the destination's AE title, "
    "host and port",
    0xA900: "the identifier does not match the SOP class",
    0xB000: "a warning: one or more sub-operations failed",
    0xFE00: "cancelled",
}


def move_meaning(status: int) -> str:
    """What a C-MOVE status means, in words."""
    if status in _MEANINGS:
        return _MEANINGS[status]
    if 0xC000 <= status <= 0xCFFF:
        return "the PACS was unable to process the request"
    return "failure"


@dataclass(frozen=True)
class MoveResult:
    """The final C-MOVE response: its status and sub-operation counters (0 when absent)."""

    status: int
    completed: int
    failed: int
    warning: int
    seconds: float

    @property
    def succeeded(self) -> bool:
        """Every sub-operation completed (status Success, nothing failed)."""
        return self.status == 0x0000 and self.failed == 0


def _counter(ds: Dataset, keyword: str) -> int:
    value = ds.get(keyword)
    return int(value) if value not in (None, "") else 0


def retrieve_identifier(study_uid: str, series_uid: str | None) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def move_study(
    local: LocalAE,
    node: PacsNode,
    study_uid: str,
    destination: str,
    *,
    series_uids: Sequence[str] = (),
    timeouts: Timeouts | None = None,
) -> MoveResult:
    """Ask ``node`` to send the study (or only ``series_uids``) to the AE ``destination``.

    With ``series_uids``, one SERIES-level C-MOVE per series is sent on the same
    association (not every PACS accepts a list of UIDs), and the counters are added up.

    Returns:
        The final response (added up), for Success and Warning (some sub-operations failed).

    Raises:
        DimseFailureError: the PACS answered a Failure, Refused or Cancel status (permanent);
            the message gives the status, its meaning and the counters.
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    destination = validate_ae_title(destination, "move destination")
    with open_association(
        local, node, [StudyRootQueryRetrieveInformationModelMove], timeouts=timeouts
    ) as assoc:
        return retrieve_each(
            assoc,
            node,
            "C-MOVE",
            study_uid,
            series_uids,
            lambda identifier: assoc.send_c_move(
                identifier, destination, StudyRootQueryRetrieveInformationModelMove
            ),
            f" to {destination}",
        )


def retrieve_each(
    assoc: Association,
    node: PacsNode,
    kind: str,
    study_uid: str,
    series_uids: Sequence[str],
    send: Callable[[Dataset], Iterator[tuple[Dataset, Dataset | None]]],
    to: str = "",
) -> MoveResult:
    """Send one C-MOVE or C-GET (``kind``) for the study, or one per series, on ``assoc``;
    the final responses added up, logged.

    Args:
        send: sends the request for an identifier and returns its responses.
        to: appended to the request's name in messages (the move destination).
    """
    started = time.monotonic()
    total = MoveResult(status=0x0000, completed=0, failed=0, warning=0, seconds=0.0)
    targets: list[str | None] = [*series_uids] if series_uids else [None]
    for series_uid in targets:
        what = f"the {kind} of study {study_uid}" + (f" series {series_uid}" if series_uid else "")
        part = final_response(
            assoc, node, send(retrieve_identifier(study_uid, series_uid)), what + to
        )
        total = MoveResult(
            status=max(total.status, part.status),
            completed=total.completed + part.completed,
            failed=total.failed + part.failed,
            warning=total.warning + part.warning,
            seconds=time.monotonic() - started,
        )
    LOGGER.info(
        "%s of study %s from %s: %d completed, %d failed, %d warnings in %.1f s",
        kind,
        study_uid,
        node,
        total.completed,
        total.failed,
        total.warning,
        total.seconds,
    )
    return total


def final_response(
    assoc: Association,
    node: PacsNode,
    responses: Iterator[tuple[Dataset, Dataset | None]],
    what: str,
) -> MoveResult:
    """The final response of one C-MOVE or C-GET request (pending ones skipped).

    Raises:
        DimseFailureError: a Failure, Refused or Cancel status.
        AssociationAbortedError / DimseTimeoutError: no status (abort, timeout).
    """
    sent = time.monotonic()
    for status, _ in responses:
        if not status or "Status" not in status:
            raise no_status_error(assoc, node, sent, what)
        code = int(status.Status)
        if code == _PENDING:
            sent = time.monotonic()  # the DIMSE timeout runs from the last response
            continue
        result = MoveResult(
            status=code,
            completed=_counter(status, "NumberOfCompletedSuboperations"),
            failed=_counter(status, "NumberOfFailedSuboperations"),
            warning=_counter(status, "NumberOfWarningSuboperations"),
            seconds=0.0,
        )
        if code in (0x0000, _WARNING):
            return result
        counts = (
            f"{result.completed} sent, {result.failed} failed"
            if result.completed or result.failed or result.warning
            else "no sub-operation counts"  # Orthanc's Failure: "0 sent, 0 failed" is untrue
        )
        raise DimseFailureError(
            f"{node} answered {what} with status 0x{code:04X} ({move_meaning(code)}); {counts}",
            code,
        )
    raise DimseTimeoutError(f"{node} ended {what} without a final status")
