"""The pacsflow database schema: SQLAlchemy 2 typed models and the two views.

Table and column names are the seed's (pacsanini 0.2.1): users' SQL and CSV
dumps depend on them. Additions are nullable columns with documented meaning.

One module per part of the schema, all importable from here:

- :mod:`~pacsflow.database.models.base`: the declarative base, column types, :func:`utc_now`;
- :mod:`~pacsflow.database.models.studies`: studies found on a PACS, and the patients,
  studies, series and images ingested (a new images column goes there);
- :mod:`~pacsflow.database.models.ingest_log`: failed files and parent values not kept;
- :mod:`~pacsflow.database.models.cohorts`: cohorts, their items and the studies found for them;
- :mod:`~pacsflow.database.models.pseudonyms`: the linkage of pseudonymised exports;
- :mod:`~pacsflow.database.models.sql_views`: the two views, read-only;
- :mod:`~pacsflow.database.models.tables`: each model's Core table, typed, and :data:`TABLES`.
"""

from pacsflow.database.models.base import JSON_HEADER, NAMING_CONVENTION, UID, Base, utc_now
from pacsflow.database.models.cohorts import Cohort, CohortItem, CohortStudy
from pacsflow.database.models.ingest_log import IngestConflict, IngestError
from pacsflow.database.models.pseudonyms import Pseudonym
from pacsflow.database.models.sql_views import manufacturers_view, study_metadata_view
from pacsflow.database.models.studies import Image, Patient, Series, Study, StudyFind
from pacsflow.database.models.tables import TABLES

__all__ = [
    "JSON_HEADER",
    "NAMING_CONVENTION",
    "TABLES",
    "UID",
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
