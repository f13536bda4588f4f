"""Adopting a database made by pacsanini 0.2.1: its rows kept, its values fixed where they can be.

pacsanini's schema is recognised by its only Alembic revision (``eef30b8456eb``,
SQLite) or, without ``alembic_version``, by its five tables with the images'
float ``acquisition_time`` (PostgreSQL, where pacsanini's own migration fails,
so its users created the tables alone). Adoption runs inside the caller's
migration transaction: nothing changes unless all of it succeeds.

1. pacsanini's views are dropped and its tables renamed ``pacsanini_old_*``
   (with their named indexes dropped and, on PostgreSQL, their sequences
   renamed), so that pacsflow's revision 0001 can create its own.
2. Rows are copied table by table in id order (ids kept, so every reference
   holds), converting what pacsanini stored wrongly:
   dates stored as datetimes become dates; ``acquisition_time`` stored as a
   float (``101530.25``; ``-1`` when absent) becomes a time, read from the
   header kept in ``meta`` (exact) or else from the float (``HHMMSS``);
   ``images.patient_name`` (never filled by pacsanini) and missing patient
   names come from the header; ages (whole years, ``-1`` unknown) are
   recomputed from PatientAge in the header (fractions for days, weeks,
   months); studies are linked to their C-FIND record (``study_find_id``,
   never set by pacsanini).
3. The old tables are dropped; the caller upgrades from 0001 to the head.

Values that cannot be converted are left as they were (a time with no
header and a float that is not ``HHMMSS`` becomes NULL, the only way to
leave it) and counted in the :class:`AdoptionReport`, which holds counts
only, never values. Required values pacsanini left NULL get a stand-in
(``missing:<table>:<id>``) and are counted too. UIDs longer than pacsflow's 64
characters, or a row without its parent, stop the adoption with a clear
error, the database untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, func, insert, inspect, select, text, update

from alembic import command
from pacsflow.database.models.tables import STUDIES, STUDIES_FIND
from pacsflow.database.pacsanini_rows import (
    AdoptionReport,
    Converter,
    HeaderFacts,
    patient_row,
    series_row,
    studies_find_row,
    study_row,
)
from pacsflow.errors import PermanentError

LOGGER = logging.getLogger(__name__)

__all__ = [
    "PACSANINI_REVISION",
    "AdoptionError",
    "AdoptionReport",
    "adopt_pacsanini",
    "is_pacsanini_schema",
]

PACSANINI_REVISION = "eef30b8456eb"
"""pacsanini 0.2.1's one Alembic revision."""

_TABLES = ("studies_find", "patients", "studies", "series", "images")  # parents first
_OLD = "pacsanini_old_"
_NAMED_INDEXES = ("ix_studies_find_study_uid", "ix_images_patient_id", "ix_images_study_uid")
_VIEWS = ("study_metadata", "manufacturers")
_BATCH = 1000
_UID_COLUMNS = {
    "studies_find": ("study_uid",),
    "studies": ("study_uid",),
    "series": ("series_uid",),
    "images": ("study_uid", "series_uid", "sop_class_uid", "image_uid"),
}
_MAX_UID = 64


class AdoptionError(PermanentError):
    """The pacsanini database cannot be adopted as it is; nothing was changed."""


def is_pacsanini_schema(conn: Connection) -> bool:
    """Whether the database holds pacsanini's schema (and not pacsflow's)."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision == PACSANINI_REVISION:
        return True
    if revision is not None:
        return False
    inspector = inspect(conn)
    if not set(_TABLES) <= set(inspector.get_table_names()):
        return False
    columns = {c["name"] for c in inspector.get_columns("images")}
    return "acquisition_time" in columns and "file_size" not in columns


def adopt_pacsanini(conn: Connection, config: Config) -> AdoptionReport:
    """Turn pacsanini's schema into pacsflow's revision 0001 with every row; see the module doc.

    ``conn`` is in the caller's migration transaction; ``config`` is the
    Alembic configuration bound to it. The caller then upgrades to the head.

    Raises:
        AdoptionError: a UID longer than 64 characters, or a row without its parent.
    """
    _check_adoptable(conn)
    report = AdoptionReport()
    _set_aside_old_tables(conn)
    config.attributes["connection"] = conn
    command.upgrade(config, "0001")
    headers = HeaderFacts()
    _copy(conn, "studies_find", studies_find_row, report)
    _copy(conn, "patients", patient_row, report)
    _copy(conn, "studies", study_row, report)
    _copy(conn, "series", series_row, report)
    _copy(conn, "images", headers.image_row, report)
    headers.apply(conn, report)
    found = select(STUDIES_FIND.c.id).where(STUDIES_FIND.c.study_uid == STUDIES.c.study_uid)
    linked = conn.execute(
        update(STUDIES)
        .where(STUDIES.c.study_find_id.is_(None), found.exists())
        .values(study_find_id=found.scalar_subquery())
    ).rowcount
    if linked:
        report.count(report.converted, "studies linked to their C-FIND record", linked)
    for table in reversed(_TABLES):
        conn.exec_driver_sql(f"DROP TABLE {_OLD}{table}")
    if conn.dialect.name == "postgresql":
        for table in _TABLES:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )
    for line in report.lines():
        LOGGER.warning("%s", line)
    return report


def _check_adoptable(conn: Connection) -> None:
    meta = MetaData()
    for table, columns in _UID_COLUMNS.items():
        old = Table(table, meta, autoload_with=conn)
        for column in columns:
            too_long = conn.scalar(
                select(func.count()).where(func.length(old.c[column]) > _MAX_UID)
            )
            if too_long:
                raise AdoptionError(
                    f"{too_long} rows of {table}.{column} hold more than {_MAX_UID} characters, "
                    "more than a DICOM UID may; pacsflow cannot store them. Nothing was changed"
                )
    for child, column, parent in (
        ("studies", "patient_id", "patients"),
        ("series", "study_id", "studies"),
        ("images", "series_id", "series"),
    ):
        orphans = conn.scalar(
            text(
                f"SELECT count(*) FROM {child} c WHERE c.{column} IS NULL OR NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
            )
        )
        if orphans:
            raise AdoptionError(
                f"{orphans} rows of {child} have no row in {parent} ({child}.{column}); "
                "pacsflow keeps every row under its parent. Nothing was changed"
            )


def _set_aside_old_tables(conn: Connection) -> None:
    for view in _VIEWS:
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view}")
    for index in _NAMED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    for table in _TABLES:
        conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {_OLD}{table}")
        if conn.dialect.name == "postgresql":
            sequence = conn.scalar(
                text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": f"{_OLD}{table}"}
            )
            if sequence:
                conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} RENAME TO {_OLD}{table}_id_seq")
    if inspect(conn).has_table("alembic_version"):
        conn.exec_driver_sql("DELETE FROM alembic_version")


def _old_rows(conn: Connection, table: str) -> Iterator[list[dict[str, Any]]]:
    """The old table's rows in id order, a batch at a time (keyset pages)."""
    old = Table(f"{_OLD}{table}", MetaData(), autoload_with=conn)
    last = None
    while True:
        query = select(old).order_by(old.c.id).limit(_BATCH)
        if last is not None:
            query = query.where(old.c.id > last)
        rows = [dict(row._mapping) for row in conn.execute(query)]
        if not rows:
            return
        last = rows[-1]["id"]
        yield rows


def _copy(conn: Connection, table: str, convert: Converter, report: AdoptionReport) -> None:
    # Reflected, not the model's table: the model is at the head revision, and its
    # Python-side defaults would name columns that revision 0001 does not have yet.
    target = Table(table, MetaData(), autoload_with=conn)
    copied = 0
    for rows in _old_rows(conn, table):
        conn.execute(insert(target), [convert(row, report) for row in rows])
        copied += len(rows)
    report.rows[table] = copied
