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

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, func, insert, inspect, select, text, update

from alembic import command
from pacsflow.database.models.tables import PATIENTS, STUDIES, STUDIES_FIND
from pacsflow.dicom.values import UNKNOWN_AGE, age_to_years, parse_tm
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
_TAG_PATIENT_NAME, _TAG_PATIENT_AGE, _TAG_ACQUISITION_TIME = "00100010", "00101010", "00080032"


class AdoptionError(PermanentError):
    """The pacsanini database cannot be adopted as it is; nothing was changed."""


@dataclass
class AdoptionReport:
    """What adopting a pacsanini database did: rows kept, values converted or left. Counts only."""

    rows: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    left_as_they_were: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], what: str, n: int = 1) -> None:
        bucket[what] = bucket.get(what, 0) + n

    def text(self) -> str:
        """The report as lines of text, for the CLI."""
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The report as lines for logs and the CLI."""
        kept = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        lines = [f"adopted a pacsanini 0.2.1 database; rows kept: {kept}"]
        lines += [f"  converted: {n} {what}" for what, n in sorted(self.converted.items())]
        lines += [
            f"  left as they were: {n} {what}" for what, n in sorted(self.left_as_they_were.items())
        ]
        return lines

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain data (for flow results and JSON)."""
        return {
            "rows": dict(self.rows),
            "converted": dict(self.converted),
            "left_as_they_were": dict(self.left_as_they_were),
        }


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
    headers = _HeaderFacts()
    _copy(conn, "studies_find", _studies_find_row, report)
    _copy(conn, "patients", _patient_row, report)
    _copy(conn, "studies", _study_row, report)
    _copy(conn, "series", _series_row, report)
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


Converter = Callable[[dict[str, Any], AdoptionReport], dict[str, Any]]


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


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date) or value is None:
        return value
    try:  # SQLite may hand back text when a value was written oddly
        return dt.datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


def _required(row: dict[str, Any], table: str, column: str, report: AdoptionReport) -> str:
    value = row.get(column)
    if value:
        return str(value)
    report.count(report.left_as_they_were, f"{table}.{column} empty (stand-in missing:...)")
    return f"missing:{table}:{row['id']}"


def _studies_find_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    found_on = row.get("found_on")
    if found_on is None:
        report.count(report.left_as_they_were, "studies_find.found_on empty (set to retrieved_on)")
    return {
        "id": row["id"],
        "patient_name": row.get("patient_name"),
        "patient_id": row.get("patient_id"),
        "study_uid": _required(row, "studies_find", "study_uid", report),
        "study_date": _date(row.get("study_date")),
        "accession_number": row.get("accession_number"),
        "retrieved_on": row.get("retrieved_on"),
        "found_on": found_on or row.get("retrieved_on") or dt.datetime(1970, 1, 1),
    }


def _patient_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    return {
        "id": row["id"],
        "patient_id": _required(row, "patients", "patient_id", report),
        "patient_name": row.get("patient_name"),
        "patient_birth_date": _date(row.get("patient_birth_date")),
        "institution": row.get("institution"),
    }


def _study_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    age = row.get("patient_age")
    return {
        "id": row["id"],
        "study_find_id": row.get("study_find_id"),
        "patient_id": row["patient_id"],
        "study_uid": _required(row, "studies", "study_uid", report),
        "study_date": _date(row.get("study_date")),
        "patient_age": float(age) if age is not None else UNKNOWN_AGE,
        "accession_number": row.get("accession_number"),
    }


def _series_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    return {
        "id": row["id"],
        "study_id": row["study_id"],
        "series_uid": _required(row, "series", "series_uid", report),
        "modality": row.get("modality"),
    }


def _header_value(meta: Any, tag: str) -> Any:
    """The first value of a DICOM JSON element in ``meta`` (pacsanini's header), or None."""
    if not isinstance(meta, dict):
        return None
    element = meta.get(tag)
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    return values[0] if isinstance(values, list) and values else None


class _HeaderFacts:
    """Converts image rows, and keeps what their headers tell about patients and studies."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # patients.patient_id -> PatientName
        self.ages: dict[str, float] = {}  # study_uid -> age in years

    def image_row(self, row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
        meta = row.get("meta")
        name = row.get("patient_name")
        if not name:
            header_name = _header_value(meta, _TAG_PATIENT_NAME)
            if isinstance(header_name, dict):
                header_name = header_name.get("Alphabetic")
            if header_name:
                name = str(header_name)
                report.count(report.converted, "images.patient_name filled from the header")
        patient_id = _required(row, "images", "patient_id", report)
        if name:
            self.names.setdefault(patient_id, name)
        study_uid = _required(row, "images", "study_uid", report)
        age = _header_value(meta, _TAG_PATIENT_AGE)
        if age and age_to_years(age) != UNKNOWN_AGE:
            self.ages.setdefault(study_uid, age_to_years(age))
        return {
            "id": row["id"],
            "series_id": row["series_id"],
            "institution": row.get("institution"),
            "patient_id": patient_id,
            "patient_name": name,
            "study_uid": study_uid,
            "study_date": _date(row.get("study_date")),
            "series_uid": _required(row, "images", "series_uid", report),
            "modality": row.get("modality"),
            "sop_class_uid": row.get("sop_class_uid"),
            "image_uid": _required(row, "images", "image_uid", report),
            "acquisition_time": self._time(row.get("acquisition_time"), meta, report),
            "manufacturer": row.get("manufacturer"),
            "manufacturer_model_name": row.get("manufacturer_model_name"),
            "meta": meta,
            "filepath": row.get("filepath"),
        }

    @staticmethod
    def _time(value: Any, meta: Any, report: AdoptionReport) -> dt.time | None:
        from_header = parse_tm(_header_value(meta, _TAG_ACQUISITION_TIME))
        if from_header is not None:
            report.count(report.converted, "images.acquisition_time read from the header")
            return from_header
        if value is None or float(value) == -1:
            return None  # pacsanini's "absent"
        converted = parse_tm(float(value))  # the float of an HHMMSS.ffffff TM
        if converted is None:
            report.count(
                report.left_as_they_were, "images.acquisition_time not a time (set to NULL)"
            )
        else:
            report.count(report.converted, "images.acquisition_time read from the float")
        return converted

    def apply(self, conn: Connection, report: AdoptionReport) -> None:
        """Fill patient names pacsanini left NULL; recompute ages from PatientAge."""
        patients, studies = PATIENTS, STUDIES
        for patient_id, name in self.names.items():
            done = conn.execute(
                update(patients)
                .where(patients.c.patient_id == patient_id, patients.c.patient_name.is_(None))
                .values(patient_name=name)
            ).rowcount
            if done:
                report.count(report.converted, "patients.patient_name filled from the header")
        for study_uid, age in self.ages.items():
            done = conn.execute(
                update(studies)
                .where(studies.c.study_uid == study_uid, studies.c.patient_age != age)
                .values(patient_age=age)
            ).rowcount
            if done:
                report.count(report.converted, "studies.patient_age recomputed from PatientAge")
