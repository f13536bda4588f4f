"""Every model's Core table, typed as :class:`~sqlalchemy.Table`, for statements built on tables.

Declarative classes type ``__table__`` as ``FromClause``; the insert-or-ignore
and bulk-update statements need the :class:`~sqlalchemy.Table` it really is.
:func:`table_of` checks that once, here, so no module keeps its own alias.
"""

from __future__ import annotations

from sqlalchemy import Table

from pacsflow.database.models.base import Base
from pacsflow.database.models.cohorts import Cohort, CohortItem, CohortStudy
from pacsflow.database.models.ingest_log import IngestConflict, IngestError
from pacsflow.database.models.pseudonyms import Pseudonym
from pacsflow.database.models.studies import Image, Patient, Series, Study, StudyFind

__all__ = [
    "COHORTS",
    "COHORT_ITEMS",
    "COHORT_STUDIES",
    "IMAGES",
    "INGEST_CONFLICTS",
    "INGEST_ERRORS",
    "PATIENTS",
    "PSEUDONYMS",
    "SERIES",
    "STUDIES",
    "STUDIES_FIND",
    "TABLES",
    "table_of",
]


def table_of(model: type[Base]) -> Table:
    """The :class:`~sqlalchemy.Table` a model is mapped to."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every pacsflow model maps one table
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


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

STUDIES_FIND = table_of(StudyFind)
PATIENTS = table_of(Patient)
STUDIES = table_of(Study)
SERIES = table_of(Series)
IMAGES = table_of(Image)
INGEST_ERRORS = table_of(IngestError)
INGEST_CONFLICTS = table_of(IngestConflict)
COHORTS = table_of(Cohort)
COHORT_ITEMS = table_of(CohortItem)
COHORT_STUDIES = table_of(CohortStudy)
PSEUDONYMS = table_of(Pseudonym)
