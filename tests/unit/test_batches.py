"""Cutting a folder's files into batches: full batches, then a finer tail."""

from __future__ import annotations

import pytest

from pacsflow.ingest.folders import batched, plan_batches


def test_plan_batches_keeps_every_item_once_in_order() -> None:
    items = list(range(10_037))
    batches = list(plan_batches(iter(items), total=len(items), batch_size=1000, workers=2))
    assert [i for batch in batches for i in batch] == items


def test_plan_batches_cuts_the_last_batches_finer() -> None:
    sizes = [len(b) for b in plan_batches(range(10_000), total=10_000, batch_size=1000, workers=2)]
    assert sizes[:8] == [1000] * 8
    assert sizes[8:] == [250] * 8  # the last 2 x 1000 files, in quarter batches


def test_plan_batches_of_a_small_folder_are_all_small() -> None:
    sizes = [len(b) for b in plan_batches(range(30), total=30, batch_size=2000, workers=2)]
    assert sizes == [30]


def test_plan_batches_survives_a_wrong_total() -> None:
    # Files can appear between the count and the walk: nothing is dropped.
    batches = list(plan_batches(range(50), total=10, batch_size=20, workers=1))
    assert sum(len(b) for b in batches) == 50


def test_batched_rejects_a_zero_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(batched(range(3), 0))
