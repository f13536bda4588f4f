"""Two first runs of one cohort at once (a CLI call while a deployment starts it).

Every caller must succeed: one records the cohort and its items, the others
check their file against it. Spawned processes released by a barrier, on
both dialects, a few rounds each.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.cohorts.bookkeeping import record_cohort
from pacsflow.cohorts.cohort_file import CohortItemKeys
from pacsflow.database.engine import make_engine
from pacsflow.database.models import Cohort, CohortItem
from pacsflow.database.session import session_scope

CALLERS = 3
ROUNDS = 4
ITEMS = [CohortItemKeys(row=n, accession_number=f"R{n}") for n in range(1, 51)]


def _record_at_barrier(barrier: Any, url: str, name: str) -> tuple[bool, str | None]:
    """(created, traceback on failure) of one record_cohort call, started with the others."""
    engine = make_engine(url)
    try:
        barrier.wait(timeout=60)
        with session_scope(engine) as session:
            return record_cohort(session, name, ITEMS).created, None
    except Exception:
        return False, traceback.format_exc()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def callers() -> Iterator[tuple[ProcessPoolExecutor, Any]]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(CALLERS, mp_context=context) as pool:
        yield pool, manager.Barrier(CALLERS)


def test_concurrent_first_runs_of_a_cohort_all_succeed(
    callers: tuple[ProcessPoolExecutor, Any], db_url: str
) -> None:
    pool, barrier = callers
    for round_ in range(ROUNDS):
        name = f"race-{round_}"
        futures = [pool.submit(_record_at_barrier, barrier, db_url, name) for _ in range(CALLERS)]
        results = [future.result(timeout=300) for future in futures]
        errors = [error for _, error in results if error]
        assert not errors, f"{len(errors)} of {CALLERS} calls failed:\n{errors[0]}"
        assert sum(created for created, _ in results) == 1
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Cohort)) == ROUNDS
        assert session.scalar(select(func.count()).select_from(CohortItem)) == ROUNDS * len(ITEMS)
    engine.dispose()
