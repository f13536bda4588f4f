"""pacsanini's view classes, ``StudyMetaView`` and ``ManufacturerView``, over pacsflow's views.

They are mapped on a registry of their own, so the views stay out of
``Base.metadata`` (Alembic and ``create_all`` would take them for tables).
pacsflow's ``study_metadata`` holds pacsanini's columns and more
(patient name and birth date, institution, accession number, model,
manufacturer count).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import DeclarativeBase, Mapped

from pacsflow.database.models import manufacturers_view, study_metadata_view

__all__ = ["ManufacturerView", "StudyMetaView"]


class _ViewBase(DeclarativeBase):
    metadata = study_metadata_view.metadata


class StudyMetaView(_ViewBase):
    """One row per study: patient, date, age, first manufacturer, image count (read only)."""

    __tablename__ = "study_metadata"
    __table__ = study_metadata_view
    __mapper_args__ = {"primary_key": [study_metadata_view.c.study_uid]}  # noqa: RUF012

    patient_id: Mapped[str]
    study_uid: Mapped[str]
    study_date: Mapped[dt.date | None]
    patient_age: Mapped[float]
    manufacturer: Mapped[str | None]
    image_count: Mapped[int]


class ManufacturerView(_ViewBase):
    """Images per manufacturer (read only); a NULL manufacturer is a row too."""

    __tablename__ = "manufacturers"
    __table__ = manufacturers_view
    # image_count joins the key so that the NULL manufacturer's row is not dropped.
    __mapper_args__ = {  # noqa: RUF012
        "primary_key": [manufacturers_view.c.manufacturer, manufacturers_view.c.image_count]
    }

    manufacturer: Mapped[str | None]
    image_count: Mapped[int]
