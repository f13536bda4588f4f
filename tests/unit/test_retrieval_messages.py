"""What a failed or partial retrieval says: true counts, or that the PACS gave none."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydicom.dataset import Dataset

from pacsflow.net.dimse_errors import DimseFailureError
from pacsflow.net.move import MoveResult, final_response
from pacsflow.net.nodes import PacsNode
from pacsflow.retrieval.finish import _judge

PACS = PacsNode("ORTHANC", "127.0.0.1", 4242)


def _final(status: int, **counters: int) -> Dataset:
    ds = Dataset()
    ds.Status = status
    for keyword, value in counters.items():
        setattr(ds, keyword, value)
    return ds


def _failure(ds: Dataset) -> DimseFailureError:
    with pytest.raises(DimseFailureError) as raised:
        final_response(cast(Any, None), PACS, iter([(ds, None)]), "the C-MOVE of study 1.2.3")
    return raised.value


def test_a_failure_without_counters_says_so_not_zero_sent() -> None:
    error = _failure(_final(0xC000))  # what Orthanc answers when a sub-operation fails
    assert str(error).endswith(
        "status 0xC000 (the PACS was unable to process the request); no sub-operation counts"
    )
    outcome, reason = _judge(PACS, None, error, 1, 1)
    assert outcome == "failed"
    assert reason is not None
    assert reason.endswith("no sub-operation counts; 1 of 1 instances arrived")
    assert "0 sent" not in reason
    assert "stored)" not in reason


def test_a_failure_with_counters_gives_them() -> None:
    error = _failure(
        _final(0xA702, NumberOfCompletedSuboperations=2, NumberOfFailedSuboperations=1)
    )
    assert str(error).endswith("; 2 sent, 1 failed")
    assert _judge(PACS, None, error, 2, None)[1] == f"{error}; 2 of ? instances arrived"


def test_a_warning_status_gives_the_counters_or_says_there_were_none() -> None:
    counted = MoveResult(status=0xB000, completed=2, failed=1, warning=0, seconds=1.0)
    assert _judge(PACS, counted, None, 2, 3) == (
        "partial",
        "the C-MOVE ended with status 0xB000: 2 sent, 1 failed, 0 warnings; "
        "2 of 3 instances arrived",
    )
    uncounted = MoveResult(status=0xB000, completed=0, failed=0, warning=0, seconds=1.0)
    outcome, reason = _judge(PACS, uncounted, None, 3, 3)
    assert (outcome, reason) == (
        "partial",
        "the C-MOVE ended with status 0xB000 (a warning: one or more sub-operations failed) "
        "with no sub-operation counts; 3 of 3 instances arrived",
    )
