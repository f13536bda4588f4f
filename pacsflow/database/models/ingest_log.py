"""What ingest runs could not store: failed files and the parent values not kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pacsflow.database.models.base import UID, Base, utc_now

__all__ = ["IngestConflict", "IngestError"]


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
