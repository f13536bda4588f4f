"""Studies found on a PACS, and the patient, study, series and image rows ingested from files."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    Time,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pacsflow.database.models.base import JSON_HEADER, UID, Base, utc_now

__all__ = ["Image", "Patient", "Series", "Study", "StudyFind"]


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
