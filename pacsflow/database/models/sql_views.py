"""Read-only table objects for querying the two views the migrations create.

The views are created by the migrations (alembic/versions), which hold their
SQL. Every selected column there is grouped or aggregated, so PostgreSQL
accepts them (the seed's study_metadata was valid on SQLite only). A study
may hold images from several scanners: its manufacturer is the alphabetically
first one, and manufacturer_count says how many there were. The table objects
are kept out of ``Base.metadata`` so that Alembic's comparison does not treat
them as tables.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Float, Integer, MetaData, Table, Text

from pacsflow.database.models.base import UID

__all__ = ["manufacturers_view", "study_metadata_view"]

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
