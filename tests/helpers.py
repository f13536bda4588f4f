"""Helpers shared by the flow tests: table counts, found studies, the newest artifact of a key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from pydicom.dataset import Dataset
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, IngestError, Patient, Series, Study, StudyFind
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
