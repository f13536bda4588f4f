"""Which ingested studies an export takes: a cohort's, or by study date and modality."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Select, exists, inspect, select
from sqlalchemy.orm import Session

from pacsflow.database.models import Cohort, CohortItem, CohortStudy, Series, Study, StudyFind
from pacsflow.errors import PermanentError

__all__ = [
    "ExportSelection",
    "UnknownCohortError",
    "check_cohort",
    "selected_query",
    "selected_studies",
]


class UnknownCohortError(PermanentError):
    """The export names a cohort the database does not hold."""

    @classmethod
    def named(cls, name: str) -> UnknownCohortError:
        """The error for the cohort ``name``, saying how to list the cohorts."""
        return cls(f"no cohort named {name!r} (pacsflow cohort list shows them)")


@dataclass(frozen=True)
class ExportSelection:
    """The studies to export: every condition given must hold.

    Args:
        cohort: only the studies found for this cohort's items.
        start: only studies on or after this StudyDate.
        end: only studies on or before this StudyDate.
        modalities: only studies with a series of one of these modalities.
    """

    cohort: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    modalities: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"the end date {self.end} is before the start date {self.start}")
        object.__setattr__(self, "modalities", tuple(m.upper() for m in self.modalities))

    def describe(self) -> dict[str, object]:
        """The selection as the manifest records it (no patient data)."""
        return {
            "cohort": self.cohort,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "modalities": list(self.modalities),
        }


def _cohort_id(session: Session, name: str) -> int:
    """The id of the cohort named ``name``.

    Raises:
        UnknownCohortError: no cohort has that name.
    """
    found = session.scalar(select(Cohort.id).where(Cohort.name == name))
    if found is None:
        raise UnknownCohortError.named(name)
    return found


def check_cohort(engine: Engine, name: str) -> None:
    """Check that the database holds the cohort ``name`` (one without pacsflow's tables
    holds none).

    Raises:
        UnknownCohortError: no cohort has that name.
    """
    if not inspect(engine).has_table(Cohort.__tablename__):
        raise UnknownCohortError.named(name)
    with Session(engine) as session:
        _cohort_id(session, name)


def selected_studies(session: Session, selection: ExportSelection) -> list[str]:
    """The StudyInstanceUIDs of the ingested studies selected, oldest first.

    Raises:
        UnknownCohortError: ``selection.cohort`` is not a cohort of the database.
    """
    query = selected_query(session, selection).order_by(Study.study_date, Study.study_uid)
    return list(session.scalars(query))


def selected_query(session: Session, selection: ExportSelection) -> Select[Any]:
    """The query of the selected StudyInstanceUIDs, to use as a sub-query.

    Raises:
        UnknownCohortError: ``selection.cohort`` is not a cohort of the database.
    """
    query = select(Study.study_uid)
    if selection.start is not None:
        query = query.where(Study.study_date >= selection.start)
    if selection.end is not None:
        query = query.where(Study.study_date <= selection.end)
    if selection.modalities:
        query = query.where(
            exists(
                select(Series.id).where(
                    Series.study_id == Study.id, Series.modality.in_(selection.modalities)
                )
            )
        )
    if selection.cohort is not None:
        cohort = _cohort_id(session, selection.cohort)
        query = query.where(
            Study.study_uid.in_(
                select(StudyFind.study_uid)
                .join(CohortStudy, CohortStudy.study_find_id == StudyFind.id)
                .join(CohortItem, CohortItem.id == CohortStudy.cohort_item_id)
                .where(CohortItem.cohort_id == cohort)
            )
        )
    return query
