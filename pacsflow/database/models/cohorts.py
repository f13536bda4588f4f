"""Cohorts: the lists of items a research request names, and the studies found for them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pacsflow.database.models.base import Base, utc_now

__all__ = ["Cohort", "CohortItem", "CohortStudy"]


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
