"""The pacsflow database schema: SQLAlchemy 2 typed models and the two views.

Table and column names are the seed's (pacsanini 0.2.1): users' SQL and CSV
dumps depend on them. Additions are nullable columns with documented meaning.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "TABLES",
    "Base",
    "Cohort",
    "CohortItem",
    "CohortStudy",
    "Image",
    "IngestConflict",
    "IngestError",
    "Patient",
    "Pseudonym",
    "Series",
    "Study",
    "StudyFind",
    "manufacturers_view",
    "study_metadata_view",
    "utc_now",
]

UID = String(64)
"""DICOM UIDs are at most 64 characters (PS3.5 9.1)."""

JSON_HEADER = JSON().with_variant(JSONB(), "postgresql")
"""The whole header in the DICOM JSON model; JSONB on PostgreSQL for indexed queries."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> dt.datetime:
    """The current time in UTC, naive, as stored in the DateTime columns."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and its naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StudyFind(Base):
    """A study reported by a PACS in a C-FIND response, and whether it was retrieved."""

    __tablename__ = "studies_find"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_name: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[str | None] = mapped_column(Text)
    study_uid: Mapped[str] = mapped_column(UID, unique=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    accession_number: Mapped[str | None] = mapped_column(Text)
    found_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    retrieved_on: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    #: (0020,1208) Number of Study Related Instances from the C-FIND answer, when the PACS gave it.
    expected_instances: Mapped[int | None] = mapped_column(Integer)
    #: (0008,0061) Modalities in Study from the C-FIND answer, backslash-separated (e.g. CT\SR).
    modalities: Mapped[str | None] = mapped_column(Text)
    #: Retrievals tried so far (complete or not); a study failing too often is no longer picked.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Why the last retrieval was incomplete (UIDs and counts only, never patient data).
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Images of the study stored in the database after the last retrieval.
    received_instances: Mapped[int | None] = mapped_column(Integer)
    #: The run retrieving the study now (``host:pid:token``), so no other run moves it too.
    claimed_by: Mapped[str | None] = mapped_column(Text)
    #: When that claim lapses if its holder never releases it (a crash on another host).
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: The series filter the last retrieval applied (JSON, see
    #: ``pacsflow.retrieval.series_filter``); NULL when it took the whole study.
    series_filter: Mapped[str | None] = mapped_column(Text)
    #: Series and instances the filter selected on the PACS (0 series: none matched,
    #: recorded as retrieved, nothing to move); NULL without a filter.
    selected_series: Mapped[int | None] = mapped_column(Integer)
    selected_instances: Mapped[int | None] = mapped_column(Integer)

    studies: Mapped[list[Study]] = relationship(back_populates="study_find", lazy="raise")

    def __repr__(self) -> str:
        return f"<StudyFind {self.study_uid} retrieved_on={self.retrieved_on}>"


class Patient(Base):
    """A patient, keyed by (0010,0020) Patient ID.

    Images whose PatientID is absent or empty (Type 2, common in anonymised
    archives) get one patient row per study, keyed
    ``no-patient-id:<StudyInstanceUID>`` (``pacsflow.dicom.records``) and
    flagged with ``patient_id_missing``: re-runs reuse it, and no two studies
    of unknown patients are merged.
    """

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, unique=True)
    #: True when the files had no PatientID and ``patient_id`` is the per-study stand-in.
    patient_id_missing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    patient_name: Mapped[str | None] = mapped_column(Text)
    patient_birth_date: Mapped[dt.date | None] = mapped_column(Date)
    institution: Mapped[str | None] = mapped_column(Text)

    studies: Mapped[list[Study]] = relationship(back_populates="patient", lazy="raise")

    def __repr__(self) -> str:  # never show the name or ID: they identify a person
        return f"<Patient id={self.id}>"


class Study(Base):
    """A study whose images were ingested, keyed by (0020,000D) Study Instance UID."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The C-FIND record of this study, when it was found on a PACS.
    study_find_id: Mapped[int | None] = mapped_column(ForeignKey("studies_find.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    study_uid: Mapped[str] = mapped_column(UID, unique=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    #: Age at the study in years (fractions for D/W/M ages); -1 when unknown.
    patient_age: Mapped[float] = mapped_column(Float, default=-1.0)
    accession_number: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="studies", lazy="raise")
    study_find: Mapped[StudyFind | None] = relationship(back_populates="studies", lazy="raise")
    series: Mapped[list[Series]] = relationship(back_populates="study", lazy="raise")

    def __repr__(self) -> str:
        return f"<Study {self.study_uid}>"


class Series(Base):
    """A series, keyed by (0020,000E) Series Instance UID."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    series_uid: Mapped[str] = mapped_column(UID, unique=True)
    modality: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="series", lazy="raise")
    images: Mapped[list[Image]] = relationship(back_populates="series", lazy="raise")

    def __repr__(self) -> str:
        return f"<Series {self.series_uid}>"


class Image(Base):
    """An instance, keyed by (0008,0018) SOP Instance UID, with its whole header.

    Patient and study columns are repeated here (as in the seed) so that common
    questions need no join.
    """

    __tablename__ = "images"
    __table_args__ = (
        Index("ix_images_patient_id", "patient_id"),
        Index("ix_images_study_uid", "study_uid"),
        Index("ix_images_filepath", "filepath"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    institution: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[str] = mapped_column(Text)
    patient_name: Mapped[str | None] = mapped_column(Text)
    study_uid: Mapped[str] = mapped_column(UID)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    series_uid: Mapped[str] = mapped_column(UID)
    modality: Mapped[str | None] = mapped_column(Text)
    sop_class_uid: Mapped[str | None] = mapped_column(UID)
    image_uid: Mapped[str] = mapped_column(UID, unique=True)
    acquisition_time: Mapped[dt.time | None] = mapped_column(Time)
    manufacturer: Mapped[str | None] = mapped_column(Text)
    manufacturer_model_name: Mapped[str | None] = mapped_column(Text)
    #: The whole header (no pixel data, no bulk data) in the DICOM JSON model, PS3.18 Annex F.
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON_HEADER)
    filepath: Mapped[str | None] = mapped_column(Text)
    #: Size in bytes and modification time (POSIX seconds) of ``filepath`` when it was
    #: read: a re-run skips a file whose path, size and time are unchanged, unparsed.
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_mtime: Mapped[float | None] = mapped_column(Float)

    series: Mapped[Series] = relationship(back_populates="images", lazy="raise")

    def __repr__(self) -> str:
        return f"<Image {self.image_uid}>"


class IngestError(Base):
    """A file that could not be stored, why, and by which run.

    A file that fails again on a later run gets a new row: the table is a log of
    attempts, and ``flow_run_id`` groups the rows of one run.
    """

    __tablename__ = "ingest_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    #: The error class, e.g. ``InvalidDicomError`` or ``MissingTagError``.
    error_type: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    #: The Prefect flow run that met the error (None outside Prefect).
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recorded_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    def __repr__(self) -> str:
        return f"<IngestError {self.error_type} {self.path}>"


class IngestConflict(Base):
    """A value an image carries for its patient, study or series that the stored row lacks.

    Parent rows keep the values of the first file stored (first wins); each
    later image that disagrees gets a row here naming the table and column, so
    the disagreement is visible. No patient value is copied: the image's own
    values are in ``images`` (join on ``image_uid``), the kept ones in the
    parent table. One row per stored image and column, so re-runs add none.
    """

    __tablename__ = "ingest_conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: (0008,0018) SOP Instance UID of the image whose value was not kept.
    image_uid: Mapped[str] = mapped_column(UID, index=True)
    path: Mapped[str | None] = mapped_column(Text)
    #: ``patients``, ``studies`` or ``series``.
    table_name: Mapped[str] = mapped_column(String(32))
    #: The column of that table, e.g. ``patient_name`` or ``patient_id`` (a study under
    #: another patient).
    column_name: Mapped[str] = mapped_column(String(64))
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recorded_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    def __repr__(self) -> str:
        return f"<IngestConflict {self.table_name}.{self.column_name} {self.image_uid}>"


class Cohort(Base):
    """A named list of items (accession numbers, patients, studies) a research request names.

    The series filter is stored with it, so a re-run applies the same one.
    """

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    #: The cohort file it was read from, as given.
    source_file: Mapped[str | None] = mapped_column(Text)
    #: The series filter (JSON, ``pacsflow.retrieval.series_filter``); NULL: whole studies.
    series_filter: Mapped[str | None] = mapped_column(Text)
    last_run_on: Mapped[dt.datetime | None] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"<Cohort {self.name}>"


class CohortItem(Base):
    """One row of a cohort file: its keys (patient data), and how far it got.

    ``status`` is ``pending`` (not found yet, or found and not tried),
    ``not_found`` (the PACS matched no study), ``partial`` (some of its studies
    tried and not complete) or ``retrieved`` (every study it matched is).
    """

    __tablename__ = "cohort_items"
    __table_args__ = (UniqueConstraint("cohort_id", "row_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    #: The data row of the file, counted from 1: how logs and reports name the item.
    row_number: Mapped[int] = mapped_column(Integer)
    accession_number: Mapped[str | None] = mapped_column(Text)
    patient_id: Mapped[str | None] = mapped_column(Text)
    study_uid: Mapped[str | None] = mapped_column(Text)
    #: StudyDate match value narrowing the row (``YYYYMMDD`` or ``YYYYMMDD-YYYYMMDD``).
    study_date: Mapped[str | None] = mapped_column(Text)
    #: ModalitiesInStudy narrowing the row, backslash-separated.
    modalities: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    studies_found: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    studies_retrieved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When the item was last C-FINDed; NULL: never.
    queried_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Why its last C-FIND failed (statuses only, never its keys).
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # never the keys: they identify patients
        return f"<CohortItem cohort={self.cohort_id} row={self.row_number}>"


class CohortStudy(Base):
    """A study found for a cohort item (an item may match many; a study may be in many)."""

    __tablename__ = "cohort_studies"

    cohort_item_id: Mapped[int] = mapped_column(ForeignKey("cohort_items.id"), primary_key=True)
    study_find_id: Mapped[int] = mapped_column(
        ForeignKey("studies_find.id"), primary_key=True, index=True
    )


class Pseudonym(Base):
    """The linkage of pseudonymised exports: an original value and its pseudonym.

    Kept only here, in the trusted zone, never exported. Pseudonyms are keyed
    hashes (:mod:`pacsflow.export.pseudonym_key`), so each is unique to its
    original and key; ``key_fingerprint`` says which key made it.
    """

    __tablename__ = "pseudonyms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``patient`` (PatientID), ``accession``, ``study``, ``series`` or ``instance`` (UIDs).
    kind: Mapped[str] = mapped_column(String(16))
    original: Mapped[str] = mapped_column(Text)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    key_fingerprint: Mapped[str] = mapped_column(String(16), index=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    __table_args__ = (Index(None, "kind", "original"),)


TABLES: dict[str, type[Base]] = {
    model.__tablename__: model
    for model in (
        StudyFind,
        Patient,
        Study,
        Series,
        Image,
        IngestError,
        IngestConflict,
        Cohort,
        CohortItem,
        CohortStudy,
        Pseudonym,
    )
}
"""Every pacsflow table by name, in dependency order (parents first)."""

# --- Views -------------------------------------------------------------------
# The views are created by the migrations (alembic/versions), which hold their
# SQL. Every selected column there is grouped or aggregated, so PostgreSQL
# accepts them (the seed's study_metadata was valid on SQLite only). A study
# may hold images from several scanners: its manufacturer is the alphabetically
# first one, and manufacturer_count says how many there were.
# Read-only table objects for querying the views; kept out of Base.metadata so
# that Alembic's comparison does not treat them as tables.
_view_metadata = MetaData()

study_metadata_view = Table(
    "study_metadata",
    _view_metadata,
    Column("patient_id", Text),
    Column("patient_name", Text),
    Column("patient_birth_date", Date),
    Column("institution", Text),
    Column("study_uid", UID),
    Column("study_date", Date),
    Column("patient_age", Float),
    Column("accession_number", Text),
    Column("manufacturer", Text),
    Column("manufacturer_model_name", Text),
    Column("manufacturer_count", Integer),
    Column("image_count", Integer),
)

manufacturers_view = Table(
    "manufacturers",
    _view_metadata,
    Column("manufacturer", Text),
    Column("image_count", Integer),
)
