"""Transaction boundaries: ``session_scope``, one unit of work on an engine.

Data-access functions in :mod:`pacsflow.database.crud` never commit; the code that
owns a unit of work opens one boundary with :func:`session_scope` and commits
or rolls back there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

LOGGER = logging.getLogger(__name__)

__all__ = ["session_scope"]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
