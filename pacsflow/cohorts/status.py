"""How far each item of a cohort got: found, retrieved, partial, not found.

Computed from the database at the time of asking (``studies_find`` tells
which studies are retrieved), and stored on the items at the end of a run
for SQL users. Reports name items by row number only: their keys are
patient data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from pacsflow.cohorts.bookkeeping import UnknownCohortError
from pacsflow.database.models import Cohort, CohortItem, CohortStudy, StudyFind, utc_now
from pacsflow.retrieval.series_filter import SeriesFilter

__all__ = ["CohortOverview", "CohortReport", "ItemStatus", "cohort_report", "list_cohorts"]

Status = Literal["not_found", "pending", "partial", "retrieved"]
STATUSES: tuple[Status, ...] = ("not_found", "pending", "partial", "retrieved")


@dataclass(frozen=True)
class ItemStatus:
    """One item: its row, status and study counts (no keys)."""

    row: int
    status: Status
    studies_found: int
    studies_retrieved: int
    #: Studies marked retrieved because the series filter matched none of their series.
    studies_without_matching_series: int
    #: Why its last C-FIND failed, if it did.
    error: str | None = None


@dataclass
class CohortReport:
    """A cohort and the status of each of its items."""

    name: str
    created_on: dt.datetime
    source_file: str | None
    series_filter: str
    last_run_on: dt.datetime | None
    items: list[ItemStatus] = field(default_factory=list)
    #: Distinct studies matched by the items (a study two items name counts once).
    studies_found: int = 0
    #: Distinct studies of those that are retrieved.
    studies_retrieved: int = 0

    def counts(self) -> dict[str, int]:
        """Items per status, and the distinct studies found and retrieved."""
        counts = {f"items_{status}": 0 for status in STATUSES}
        for item in self.items:
            counts[f"items_{item.status}"] += 1
        counts["items_total"] = len(self.items)
        counts["studies_found"] = self.studies_found
        counts["studies_retrieved"] = self.studies_retrieved
        return counts

    @property
    def done(self) -> bool:
        """Every item found, and all its studies retrieved."""
        return all(item.status == "retrieved" for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "name": self.name,
            "created_on": self.created_on.isoformat(timespec="seconds"),
            "source_file": self.source_file,
            "series_filter": self.series_filter,
            "last_run_on": self.last_run_on.isoformat(timespec="seconds")
            if self.last_run_on
            else None,
            **self.counts(),
            "items": [asdict(item) for item in self.items],
        }


def _status(found: int, retrieved: int, tried: int, queried: bool, error: str | None) -> Status:
    if found == 0:
        return "not_found" if queried and error is None else "pending"
    if retrieved == found:
        return "retrieved"
    return "partial" if retrieved or tried else "pending"


def cohort_report(session: Session, name: str, *, store: bool = False) -> CohortReport:
    """The status of every item of the cohort, by row.

    Args:
        store: also write each item's status and counts to ``cohort_items``, and
            the time to ``cohorts.last_run_on`` (the end of a run; the report
            then shows that time).

    Raises:
        UnknownCohortError: no cohort has that name.
    """
    cohort = session.scalar(select(Cohort).where(Cohort.name == name))
    if cohort is None:
        raise UnknownCohortError(name)
    retrieved = StudyFind.retrieved_on.is_not(None)
    rows = session.execute(
        select(
            CohortItem.id,
            CohortItem.row_number,
            CohortItem.queried_on,
            CohortItem.last_error,
            func.count(StudyFind.id),
            func.count(case((retrieved, 1))),
            func.count(case((~retrieved & (StudyFind.attempts > 0), 1))),
            func.count(case((retrieved & (StudyFind.selected_series == 0), 1))),
        )
        .outerjoin(CohortStudy, CohortStudy.cohort_item_id == CohortItem.id)
        .outerjoin(StudyFind, StudyFind.id == CohortStudy.study_find_id)
        .where(CohortItem.cohort_id == cohort.id)
        .group_by(CohortItem.id)
        .order_by(CohortItem.row_number)
    )
    if store:
        cohort.last_run_on = utc_now()
    distinct = (
        select(StudyFind.id, StudyFind.retrieved_on)
        .join(CohortStudy, CohortStudy.study_find_id == StudyFind.id)
        .join(CohortItem, CohortItem.id == CohortStudy.cohort_item_id)
        .where(CohortItem.cohort_id == cohort.id)
        .distinct()
        .subquery()
    )
    studies, studies_retrieved = session.execute(
        select(func.count(), func.count(distinct.c.retrieved_on)).select_from(distinct)
    ).one()
    report = CohortReport(
        name=cohort.name,
        created_on=cohort.created_on,
        source_file=cohort.source_file,
        series_filter=SeriesFilter.from_json(cohort.series_filter).describe(),
        last_run_on=cohort.last_run_on,
        studies_found=studies,
        studies_retrieved=studies_retrieved,
    )
    for item_id, row, queried_on, error, found, done, tried, unmatched in rows:
        status = _status(found, done, tried, queried_on is not None, error)
        report.items.append(ItemStatus(row, status, found, done, unmatched, error))
        if store:
            session.execute(
                update(CohortItem)
                .where(CohortItem.id == item_id)
                .values(status=status, studies_found=found, studies_retrieved=done)
            )
    return report


@dataclass(frozen=True)
class CohortOverview:
    """One line of ``pacsflow cohort list``."""

    name: str
    created_on: dt.datetime
    last_run_on: dt.datetime | None
    items: int
    items_retrieved: int
    series_filter: str


def list_cohorts(session: Session) -> list[CohortOverview]:
    """Every cohort, by name, with its item counts (as stored by its last run)."""
    rows = session.execute(
        select(
            Cohort.name,
            Cohort.created_on,
            Cohort.last_run_on,
            Cohort.series_filter,
            func.count(CohortItem.id),
            func.count(case((CohortItem.status == "retrieved", 1))),
        )
        .outerjoin(CohortItem, CohortItem.cohort_id == Cohort.id)
        .group_by(Cohort.id, Cohort.name, Cohort.created_on, Cohort.last_run_on)
        .order_by(Cohort.name)
    )
    return [
        CohortOverview(
            name, created, last_run, items, done, SeriesFilter.from_json(series_filter).describe()
        )
        for name, created, last_run, series_filter, items, done in rows
    ]
