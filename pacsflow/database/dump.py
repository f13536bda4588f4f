"""Dump pacsflow tables to CSV files, one per table (the seed's ``dump_database``)."""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from pacsflow.database.models.tables import TABLES, table_of

LOGGER = logging.getLogger(__name__)

__all__ = [
    "PACSANINI_COLUMNS",
    "check_table_names",
    "csv_value",
    "dump_columns",
    "dump_database",
    "write_table_csv",
]

_ROWS_PER_FETCH = 1000

PACSANINI_COLUMNS: dict[str, tuple[str, ...]] = {
    "studies_find": (
        "id", "patient_name", "patient_id", "study_uid", "study_date", "accession_number",
        "retrieved_on", "found_on",
    ),
    "patients": ("id", "patient_id", "patient_name", "patient_birth_date", "institution"),
    "studies": (
        "id", "study_find_id", "patient_id", "study_uid", "study_date", "patient_age",
        "accession_number",
    ),
    "series": ("id", "study_id", "series_uid", "modality"),
    "images": (
        "id", "series_id", "institution", "patient_id", "patient_name", "study_uid",
        "study_date", "series_uid", "modality", "sop_class_uid", "image_uid",
        "acquisition_time", "manufacturer", "manufacturer_model_name", "meta", "filepath",
    ),
}  # fmt: skip
"""pacsanini 0.2.1's columns in its order: CSV readers that go by position keep working."""


def dump_columns(table: Table) -> list[str]:
    """The columns of a dump: pacsanini's first, in its order, then pacsflow's own."""
    first = [c for c in PACSANINI_COLUMNS.get(table.name, ()) if c in table.c]
    return first + [c.name for c in table.columns if c.name not in first]


def csv_value(value: Any) -> Any:
    # The header JSON is written as JSON text, not as a Python dict's repr.
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def check_table_names(names: Sequence[str]) -> list[str]:
    """``names`` as a list, if each is a pacsflow table.

    Raises:
        ValueError: naming the unknown tables and the valid ones.
    """
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise ValueError(
            f"{', '.join(repr(n) for n in unknown)}: not a pacsflow table; "
            f"choose from {', '.join(TABLES)}"
        )
    return list(names)


def dump_database(
    session: Session,
    output: str | PathLike[str] | None = None,
    tables: Sequence[str] | None = None,
) -> list[Path]:
    """Write each table to ``<output>/<table>.csv`` (seed API).

    Rows are streamed, so memory stays flat however large the table.

    Args:
        session: the session to read with.
        output: the folder for the CSV files, created if missing (default: the
            current directory).
        tables: the tables to dump (default: all of them).

    Returns:
        The paths written, in table order.

    Raises:
        ValueError: a name in ``tables`` is not a pacsflow table.
    """
    names = check_table_names(tables) if tables else list(TABLES)
    folder = Path(output) if output is not None else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = folder / f"{name}.csv"
        started = time.perf_counter()
        rows = write_table_csv(session, name, path)
        LOGGER.info("Dumped %d rows of %s in %.2f s", rows, name, time.perf_counter() - started)
        written.append(path)
    return written


def write_table_csv(
    session: Session,
    name: str,
    path: Path,
    *,
    where: ColumnElement[bool] | None = None,
    replace: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> int:
    """Write table ``name`` (its rows matching ``where``) to ``path``; the rows written.

    Columns as :func:`dump_columns` orders them; rows by primary key, streamed.
    ``replace`` may change a row's values (by column name) before it is written.
    """
    table = table_of(TABLES[name])
    columns = dump_columns(table)
    query = (
        select(*(table.c[column] for column in columns))
        .order_by(*table.primary_key.columns)  # ``id``, or a link table's key pair
        .execution_options(yield_per=_ROWS_PER_FETCH)
    )
    if where is not None:
        query = query.where(where)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in session.execute(query):
            values = dict(zip(columns, row, strict=True))
            if replace is not None:
                values = replace(values)
            writer.writerow([csv_value(values[column]) for column in columns])
            rows += 1
    return rows
