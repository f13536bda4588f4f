"""Concurrent first start: several processes create and migrate one fresh database at once.

Two workers picking up their first runs, or a CLI call during a scheduled
run, both call ``initialize_database`` on a database that may not exist yet.
Every call must succeed and leave the schema at head, on both dialects.
"""

from __future__ import annotations

import multiprocessing
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy_utils import drop_database

from pacsflow.database.schema import current_revision, head_revision, initialize_database

CALLERS = 4
DATABASES = 10


def _initialize_at_barrier(barrier: Any, url: str) -> str | None:
    """Wait until every caller is ready, then initialise; the traceback on failure."""
    barrier.wait(timeout=60)
    try:
        initialize_database(url)
    except Exception:
        return traceback.format_exc()
    return None


@pytest.fixture(scope="module")
def callers() -> Iterator[tuple[ProcessPoolExecutor, Any]]:
    """A pool of caller processes (spawned: nothing inherited) and a barrier to start them."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(CALLERS, mp_context=context) as pool:
        yield pool, manager.Barrier(CALLERS)


def _race(callers: tuple[ProcessPoolExecutor, Any], url: str) -> list[str]:
    pool, barrier = callers
    futures = [pool.submit(_initialize_at_barrier, barrier, url) for _ in range(CALLERS)]
    return [error for future in futures if (error := future.result(timeout=300)) is not None]


def test_concurrent_initialisations_of_a_new_sqlite_file_all_succeed(
    callers: tuple[ProcessPoolExecutor, Any], tmp_path: Path
) -> None:
    for i in range(DATABASES):
        url = f"sqlite:///{tmp_path / f'fresh-{i}.sqlite'}"
        errors = _race(callers, url)
        assert not errors, f"{len(errors)} of {CALLERS} calls failed:\n{errors[0]}"
        assert current_revision(url) == head_revision()


@pytest.mark.integration
def test_concurrent_initialisations_of_a_missing_postgres_database_all_succeed(
    callers: tuple[ProcessPoolExecutor, Any], pg_admin_url: str
) -> None:
    for _ in range(DATABASES):
        url = make_url(pg_admin_url).set(database=f"fresh_{uuid.uuid4().hex[:10]}")
        shown = url.render_as_string(hide_password=False)
        try:
            errors = _race(callers, shown)
            assert not errors, f"{len(errors)} of {CALLERS} calls failed:\n{errors[0]}"
            assert current_revision(url) == head_revision()
        finally:
            drop_database(url)
