"""Race-free ``INSERT ... ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL.

Rows are inserted in natural-key order: two processes inserting overlapping
batches then take their row locks in the same order and cannot deadlock, and
a row another transaction is inserting is waited for, not duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pacsflow.database.models import utc_now

__all__ = [
    "IN_CHUNK",
    "insert_ignore",
    "insert_links",
    "insert_run_log",
    "key_to_id",
    "unique_by",
]

IN_CHUNK = 500
"""Values per ``IN (...)`` look-up: far below every supported driver's parameter limit."""


def unique_by(rows: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The rows with distinct ``key`` values (first one wins), sorted by that key."""
    seen: dict[Any, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row[key], row)
    return [seen[k] for k in sorted(seen)]


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str
) -> list[Any]:
    """Insert the rows whose ``key`` is not in ``table`` yet; return the keys inserted.

    One multi-row statement (split by the driver only where its parameter limit
    requires). Rows that already exist, or that a concurrent transaction
    commits first, are left as they are.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
        result = session.execute(pg_stmt.returning(table.c[key]), list(rows))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
        result = session.execute(lite_stmt.returning(table.c[key]), list(rows))
    else:
        raise NotImplementedError(f"pacsflow supports SQLite and PostgreSQL, not {dialect}")
    return list(result.scalars())


def insert_links(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of a link table (a composite primary key); rows already there are kept.

    Sorted first, so concurrent writers take their row locks in one order.
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: tuple(row[c.name] for c in table.primary_key))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).on_conflict_do_nothing(), ordered)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).on_conflict_do_nothing(), ordered)
    else:
        raise NotImplementedError(f"pacsflow supports SQLite and PostgreSQL, not {dialect}")


def key_to_id(session: Session, table: Table, key: str, values: Iterable[Any]) -> dict[Any, int]:
    """Map natural-key values to surrogate ids for the rows that exist."""
    wanted = sorted(set(values))
    found: dict[Any, int] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        query = select(table.c[key], table.c.id).where(table.c[key].in_(chunk))
        found.update({k: i for k, i in session.execute(query)})
    return found


def insert_run_log(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], flow_run_id: str | None
) -> None:
    """Append rows to a log table (``ingest_errors``, ``ingest_conflicts``) in one statement.

    Each row is stamped with the run that wrote it and the time (UTC).
    """
    if not rows:
        return
    now = utc_now()
    session.execute(
        insert(table), [{**row, "flow_run_id": flow_run_id, "recorded_on": now} for row in rows]
    )
