"""The pacsanini database API, re-implemented: every seed function under its seed name.

``from pacsflow.db import add_image, DBWrapper, Image, StudyMetaView, ...``
works as it did with ``pacsanini.db`` (models and view classes included);
``initialize_database`` takes a URL or pacsanini's config object. The
functions live in :mod:`pacsflow.compat`, a thin layer over the wings that
keeps the seed's promises (single items, commits).
"""

from pacsflow.compat.conversion import (
    dcm2dbmodels,
    dcm2image,
    dcm2patient,
    dcm2series,
    dcm2study,
    dcm2study_finding,
)
from pacsflow.compat.items import (
    add_found_study,
    add_image,
    get_studies_to_move,
    get_study_uids_to_move,
    parse_dir2sql,
    update_retrieved_study,
)
from pacsflow.compat.schema import initialize_database
from pacsflow.compat.sessions import DBWrapper, get_db_session
from pacsflow.compat.views import ManufacturerView, StudyMetaView
from pacsflow.database.crud import add_found_studies, add_images
from pacsflow.database.dump import dump_database
from pacsflow.database.models import Base, Image, Patient, Series, Study, StudyFind

__all__ = [
    "Base",
    "DBWrapper",
    "Image",
    "ManufacturerView",
    "Patient",
    "Series",
    "Study",
    "StudyFind",
    "StudyMetaView",
    "add_found_studies",
    "add_found_study",
    "add_image",
    "add_images",
    "dcm2dbmodels",
    "dcm2image",
    "dcm2patient",
    "dcm2series",
    "dcm2study",
    "dcm2study_finding",
    "dump_database",
    "get_db_session",
    "get_studies_to_move",
    "get_study_uids_to_move",
    "initialize_database",
    "parse_dir2sql",
    "update_retrieved_study",
]
