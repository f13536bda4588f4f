"""pacsflow's network errors: retryable or permanent, and intact after pickling.

Prefect pickles a failed task's exception (to store its state): an error
that cannot be rebuilt from its pickle would turn into a different error.
"""

from __future__ import annotations

import pickle

import pytest

from pacsflow.errors import PermanentError, RetryableError
from pacsflow.net.dimse_errors import (
    AssociationAbortedError,
    AssociationBusyError,
    AssociationRejectedError,
    DimseFailureError,
    DimseResponseLostError,
    DimseTimeoutError,
    PacsUnreachableError,
)
from pacsflow.net.move import move_meaning


def test_dimse_failure_survives_pickling_with_its_status() -> None:
    error = DimseFailureError("PACS answered the C-MOVE with status 0xA801", 0xA801)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes pickled just above
    assert isinstance(copy, DimseFailureError)
    assert (str(copy), copy.status) == (str(error), 0xA801)


@pytest.mark.parametrize(
    "error",
    [
        PacsUnreachableError,
        AssociationBusyError,
        AssociationAbortedError,
        DimseTimeoutError,
        DimseResponseLostError,
    ],
)
def test_transient_network_errors_are_retryable(error: type[Exception]) -> None:
    assert issubclass(error, RetryableError)
    assert not issubclass(error, PermanentError)
    assert str(pickle.loads(pickle.dumps(error("why")))) == "why"  # noqa: S301 - ours


def test_a_permanent_rejection_is_not_retried() -> None:
    assert issubclass(AssociationRejectedError, PermanentError)
    copy = pickle.loads(pickle.dumps(AssociationRejectedError("why")))  # noqa: S301 - ours
    assert str(copy) == "why"


def test_move_statuses_have_meanings() -> None:
    assert "destination unknown" in move_meaning(0xA801)
    assert "reachable" in move_meaning(0xA702)
    assert move_meaning(0xC123) == "the PACS was unable to process the request"
    assert move_meaning(0xA900) == "the identifier does not match the SOP class"
