"""Helpers shared by the tests: table counts, found studies, artifacts, PACS environments."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from pydicom import dcmread
from pydicom.dataset import Dataset
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, IngestError, Patient, Series, Study, StudyFind
from pacsflow.demo.synthetic import make_find_answer
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.retrieval.found import record_found_studies


def table_counts(url: str) -> dict[str, int]:
    """Rows per pacsflow table."""
    engine = make_engine(url)
    with Session(engine) as session:
        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (StudyFind, Patient, Study, Series, Image, IngestError)
        }
    engine.dispose()
    return counts


def record_found(url: str, answers: Sequence[Dataset]) -> None:
    """Record C-FIND answers in ``studies_find``, as a find-studies run would."""
    engine = make_engine(url)
    try:
        record_found_studies(engine, answers)
    finally:
        engine.dispose()


def found_studies(url: str) -> dict[str, StudyFind]:
    """The rows of ``studies_find`` by StudyInstanceUID (detached, attributes loaded)."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = {row.study_uid: row for row in session.scalars(select(StudyFind))}
    engine.dispose()
    return rows


def latest_artifact(key: str) -> Any:
    """The newest artifact with ``key`` on the test Prefect server."""
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert artifacts, f"no artifact {key}"
    return artifacts[0]


def ingest_outcome(url: str) -> tuple[dict[Path, tuple[str, str]], set[Path]]:
    """After an ingest: each failed path with its (error type, reason), and the stored paths."""
    engine = make_engine(url)
    with Session(engine) as session:
        failed = {
            Path(path): (kind, reason)
            for path, kind, reason in session.execute(
                select(IngestError.path, IngestError.error_type, IngestError.reason)
            )
        }
        stored = {Path(p) for p in session.scalars(select(Image.filepath)) if p}
    engine.dispose()
    return failed, stored


def study_uid_of(files: Sequence[Path]) -> str:
    """The StudyInstanceUID of the first of ``files``."""
    return str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)


def pacs_env(orthanc: OrthancServer, local_port: int | None = None) -> dict[str, str]:
    """The environment naming ``orthanc`` as the PACS (and pacsflow's port, if given)."""
    env = {
        "PACSFLOW_PACS_AET": orthanc.ae_title,
        "PACSFLOW_PACS_HOST": "127.0.0.1",
        "PACSFLOW_PACS_PORT": str(orthanc.dicom_port),
    }
    if local_port is not None:
        env["PACSFLOW_LOCAL_PORT"] = str(local_port)
    return env


def without_prefect_server(tmp_path: Path) -> dict[str, str]:
    """A shell with no Prefect server configured, a Prefect home in ``tmp_path``, no database."""
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    environment["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    environment["PACSFLOW_SERVER_IDLE_SECONDS"] = "600"
    environment.pop("PACSFLOW_DB_URL", None)
    return environment


def record_study_found(url: str, files: Sequence[Path], *, counted: bool = True) -> str:
    """Record the study of ``files`` in ``studies_find`` as a find would; its StudyInstanceUID.

    With ``counted`` the answer gives NumberOfStudyRelatedInstances (``len(files)``),
    as Orthanc does; without, it gives none, as dcmqrscp does.
    """
    uid = study_uid_of(files)
    answer = make_find_answer(uid)
    if counted:
        answer.NumberOfStudyRelatedInstances = len(files)
    record_found(url, [answer])
    return uid
