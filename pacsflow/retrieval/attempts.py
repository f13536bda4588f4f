"""Bookkeeping of retrievals in ``studies_find``: which studies to move, and how each try went.

Data-access functions in the style of :mod:`pacsflow.database.crud`: they take the
session first and never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Select, Table, func, literal, or_, select, update
from sqlalchemy.orm import Session

from pacsflow.database.models import (
    Cohort,
    CohortItem,
    CohortStudy,
    Image,
    Series,
    Study,
    StudyFind,
    utc_now,
)
from pacsflow.database.session import session_scope

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "PickedStudies",
    "SeriesSelection",
    "StudyPick",
    "pick_studies",
    "pick_studies_to_move",
    "record_attempt",
    "stored_instances",
    "unretrieved",
]

DEFAULT_MAX_ATTEMPTS = 10
"""Tries (Prefect retries included) after which a study is reported instead of picked again."""

_MODALITY_RE = re.compile(r"[A-Z0-9_]{1,16}")
_FIND: Table = StudyFind.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StudyPick:
    """Which found studies to move.

    Args:
        limit: at most this many studies (all when None).
        modalities: only studies whose ModalitiesInStudy holds one of these.
        start_date / end_date: only studies dated in this range (inclusive).
        max_attempts: skip studies tried this many times already.
        cohort: only studies found for this cohort's items.
    """

    limit: int | None = None
    modalities: Sequence[str] = ()
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    cohort: str | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, not {self.limit}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        for modality in self.modalities:
            if not _MODALITY_RE.fullmatch(modality):
                raise ValueError(f"{modality!r} is not a modality (e.g. CT, MR, DX)")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"the end date {self.end_date} is before {self.start_date}")


@dataclass
class PickedStudies:
    """The StudyInstanceUIDs to move, oldest first, and those given up on."""

    study_uids: list[str] = field(default_factory=list)
    #: Unretrieved studies that reached ``max_attempts`` (reported, not retried).
    given_up: list[str] = field(default_factory=list)


def unretrieved(query: Select[Any], pick: StudyPick) -> Select[Any]:
    """Restrict a ``studies_find`` query to the unretrieved studies ``pick`` names, oldest first.

    ``max_attempts`` and ``limit`` are left to the caller.
    """
    query = query.where(StudyFind.retrieved_on.is_(None)).order_by(
        StudyFind.study_date.asc().nulls_last(), StudyFind.id
    )
    if pick.start_date:
        query = query.where(StudyFind.study_date >= pick.start_date)
    if pick.end_date:
        query = query.where(StudyFind.study_date <= pick.end_date)
    if pick.cohort is not None:
        query = query.where(
            StudyFind.id.in_(
                select(CohortStudy.study_find_id)
                .join(CohortItem, CohortItem.id == CohortStudy.cohort_item_id)
                .join(Cohort, Cohort.id == CohortItem.cohort_id)
                .where(Cohort.name == pick.cohort)
            )
        )
    if pick.modalities:
        # '/CT/MR/' LIKE '%/CT/%' matches whole values only; slashes, because a
        # backslash is LIKE's escape character in PostgreSQL.
        slashed = literal("/") + func.replace(StudyFind.modalities, "\\", "/") + literal("/")
        query = query.where(or_(*(slashed.like(f"%/{m}/%") for m in pick.modalities)))
    return query


def pick_studies(session: Session, pick: StudyPick) -> PickedStudies:
    """The unretrieved studies to move now, oldest study date first.

    Studies tried ``max_attempts`` times are not picked; they are listed in
    :attr:`PickedStudies.given_up` so the run can report them.
    """
    base = unretrieved(select(StudyFind.study_uid), pick)
    picked = session.scalars(base.where(StudyFind.attempts < pick.max_attempts).limit(pick.limit))
    given_up = session.scalars(base.where(StudyFind.attempts >= pick.max_attempts))
    return PickedStudies(study_uids=list(picked), given_up=list(given_up))


def pick_studies_to_move(engine: Engine, pick: StudyPick) -> PickedStudies:
    """:func:`pick_studies` in a transaction of its own."""
    with session_scope(engine) as session:
        return pick_studies(session, pick)


def stored_instances(session: Session, study_uid: str) -> dict[str, set[str]]:
    """The SOPInstanceUIDs of each series of the study already in the database."""
    rows = session.execute(
        select(Series.series_uid, Image.image_uid)
        .join(Image, Image.series_id == Series.id)
        .join(Study, Study.id == Series.study_id)
        .where(Study.study_uid == study_uid)
    )
    contents: dict[str, set[str]] = {}
    for series_uid, image_uid in rows:
        contents.setdefault(series_uid, set()).add(image_uid)
    return contents


@dataclass(frozen=True)
class SeriesSelection:
    """What a series filter selected on the PACS for one study."""

    series_filter: str  # the filter's canonical JSON
    series: int
    instances: int


def record_attempt(
    session: Session,
    study_uid: str,
    *,
    complete: bool,
    received: int,
    expected: int | None,
    error: str | None,
    selection: SeriesSelection | None = None,
) -> None:
    """Count one retrieval try of a found study; mark it retrieved when ``complete``.

    Without ``selection`` (the whole study), ``expected`` is stored when the
    C-FIND answer lacked it (learned by an image-level C-FIND). With it,
    ``received`` and ``expected`` count the selected series only, and the
    selection is stored instead. A study already marked retrieved keeps its
    first time.
    """
    now = utc_now()
    values: dict[str, object] = {
        "attempts": _FIND.c.attempts + 1,
        "last_attempt_on": now,
        "last_error": None if complete else error,
        "received_instances": received,
    }
    if selection is not None:
        values["series_filter"] = selection.series_filter
        values["selected_series"] = selection.series
        values["selected_instances"] = selection.instances
    else:
        values.update(series_filter=None, selected_series=None, selected_instances=None)
        if expected is not None:
            values["expected_instances"] = func.coalesce(_FIND.c.expected_instances, expected)
    if complete:
        values["retrieved_on"] = func.coalesce(_FIND.c.retrieved_on, now)
    session.execute(update(_FIND).where(_FIND.c.study_uid == study_uid).values(values))
