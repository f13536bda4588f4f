"""Recording C-FIND answers in ``studies_find``, in batches, repeats ignored."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset
from sqlalchemy import Engine

from pacsflow.database.crud import FoundStudiesResult, add_found_studies
from pacsflow.database.session import session_scope

__all__ = ["FOUND_BATCH_SIZE", "record_found_studies"]

FOUND_BATCH_SIZE = 500
"""C-FIND answers per transaction."""


def record_found_studies(engine: Engine, answers: Sequence[Dataset]) -> FoundStudiesResult:
    """Store the answers in ``studies_find``, one transaction per batch; return the counts.

    Studies already recorded are left as they are; answers without a valid
    StudyInstanceUID are counted in ``invalid``.
    """
    total = FoundStudiesResult()
    for start in range(0, len(answers), FOUND_BATCH_SIZE):
        with session_scope(engine) as session:
            batch = add_found_studies(session, answers[start : start + FOUND_BATCH_SIZE])
        total.inserted += batch.inserted
        total.invalid.extend(batch.invalid)
    return total
