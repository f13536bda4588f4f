"""The declarative base of the pacsflow tables: shared metadata, naming convention, types."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

__all__ = ["JSON_HEADER", "NAMING_CONVENTION", "UID", "Base", "utc_now"]

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
