"""The errors of DICOM associations and DIMSE requests: retryable or permanent, each saying
what failed. :mod:`pacsflow.net.association` and the transports raise them."""

from __future__ import annotations

from typing import Any

from pacsflow.errors import PermanentError, RetryableError
from pacsflow.net.nodes import LocalAE, PacsNode

__all__ = [
    "AssociationAbortedError",
    "AssociationBusyError",
    "AssociationRejectedError",
    "CallingAeRefusedError",
    "DimseFailureError",
    "DimseResponseLostError",
    "DimseTimeoutError",
    "PacsUnreachableError",
    "calling_ae_refused",
]


class PacsUnreachableError(RetryableError):
    """No association could be set up: nothing listens, or the peer did not answer."""


class AssociationRejectedError(PermanentError):
    """The PACS rejected the association for good (unknown called or calling AE title).

    A retry meets the same answer until the configuration is fixed.
    """


class CallingAeRefusedError(AssociationRejectedError):
    """The PACS does not accept pacsflow's calling AE title (permanent).

    It rejected the association for it, or (Orthanc) accepted the association
    and aborted it at the first request.
    """


def calling_ae_refused(local: LocalAE, node: PacsNode, how: str) -> CallingAeRefusedError:
    """The error for a PACS that ``how`` (e.g. "rejected") pacsflow's calling AE title."""
    aet = local.ae_title
    return CallingAeRefusedError(
        f"the PACS {node.ae_title} at {node.host}:{node.port} {how} our calling AE title "
        f"{aet}: add {aet} (this host's address, port {local.port}) to its known modalities "
        "(Orthanc: DicomModalities), or give an AE title it knows (--local-aet)"
    )


class AssociationBusyError(RetryableError):
    """The PACS rejected the association for now (congestion, too many associations)."""


class AssociationAbortedError(RetryableError):
    """The association was aborted by either side before the work finished."""


class DimseTimeoutError(RetryableError):
    """A DIMSE request got no answer in time (an empty status)."""


class DimseResponseLostError(RetryableError):
    """pynetdicom received an answer but lost it before it reached the caller.

    pynetdicom 3.0.4's association thread can take a response off the DIMSE
    queue meant for the caller ("Received unexpected C-FIND service message"):
    a C-FIND would then end in Success with an answer missing. Retrying the
    query gets it back.
    """


class DimseFailureError(PermanentError):
    """The PACS answered a request with a Failure or Refused status."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle their args; this one needs the status back (Prefect
        # pickles a failed task's exception).
        return (type(self), (str(self), self.status))
