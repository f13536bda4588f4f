"""Recording cohorts, their items and the studies each item matched.

A cohort is known by its name. Running it again with the same file reuses
its items; a file with other rows under the same name is refused, so one
name always means one list. The series filter is stored on the first run;
a re-run without one applies the stored filter. It binds the cohort once a
study of the cohort has been tried under it: a re-run with another filter
is then refused, and until then (a first run that failed before its first
study: PACS unreachable, receiver not started) it replaces the stored one.
Functions take a session and never commit, except :func:`record_item_finds`,
which commits one transaction per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, exists, select, update
from sqlalchemy.orm import Session

from pacsflow.cohorts.cohort_file import CohortItemKeys
from pacsflow.cohorts.find import ItemFind, find_cohort_items
from pacsflow.database.crud import add_found_studies
from pacsflow.database.models import Cohort, CohortItem, utc_now
from pacsflow.database.models.tables import COHORT_STUDIES, COHORTS, STUDIES_FIND
from pacsflow.database.session import session_scope
from pacsflow.database.upsert import insert_ignore, insert_links, key_to_id
from pacsflow.dicom.values import is_valid_uid
from pacsflow.errors import PermanentError
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.series_filter import SeriesFilter

__all__ = [
    "CohortMismatchError",
    "ItemsFound",
    "RecordedCohort",
    "UnknownCohortError",
    "cohort_item_keys",
    "find_and_record_items",
    "record_cohort",
    "record_item_finds",
]

_ITEMS_PER_TRANSACTION = 200


class CohortMismatchError(PermanentError):
    """A cohort of that name exists with other rows or another series filter."""


class UnknownCohortError(PermanentError):
    """No cohort has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no cohort named {name!r} (pacsflow cohort list shows them)")


@dataclass(frozen=True)
class RecordedCohort:
    """A cohort as recorded: its name, size, and the series filter its runs apply."""

    cohort_id: int
    name: str
    items: int
    series_filter: SeriesFilter
    created: bool


def _keys(item: CohortItem) -> CohortItemKeys:
    return CohortItemKeys(
        row=item.row_number,
        accession_number=item.accession_number,
        patient_id=item.patient_id,
        study_uid=item.study_uid,
        study_date=item.study_date,
        modalities=tuple(item.modalities.split("\\")) if item.modalities else (),
    )


def _cohort(session: Session, name: str) -> Cohort:
    cohort = session.scalar(select(Cohort).where(Cohort.name == name))
    if cohort is None:
        raise UnknownCohortError(name)
    return cohort


def cohort_item_keys(session: Session, name: str) -> list[CohortItemKeys]:
    """The items of the cohort, by row number.

    Raises:
        UnknownCohortError: no cohort has that name.
    """
    cohort = _cohort(session, name)
    items = session.scalars(
        select(CohortItem).where(CohortItem.cohort_id == cohort.id).order_by(CohortItem.row_number)
    )
    return [_keys(item) for item in items]


def record_cohort(
    session: Session,
    name: str,
    items: Sequence[CohortItemKeys] | None,
    series_filter: SeriesFilter | None = None,
    source_file: str | None = None,
) -> RecordedCohort:
    """Create the cohort with its items, or check a re-run against the stored one.

    Args:
        items: the file's items; None runs the stored cohort as it is.
        series_filter: None or an empty filter keeps the stored one (none on creation).

    Raises:
        CohortMismatchError: the name is taken by other rows or another filter.
        UnknownCohortError: ``items`` is None and no cohort has that name.
    """
    wanted = series_filter if series_filter is not None and series_filter.active else None
    by_name = select(Cohort).where(Cohort.name == name)
    cohort = session.scalar(by_name)
    if cohort is None:
        if items is None:
            raise UnknownCohortError(name)
        created = _create(session, name, items, wanted, source_file)
        if created is not None:
            return created
        cohort = session.scalar(by_name)  # created meanwhile by another first run
        assert cohort is not None
    stored_filter = SeriesFilter.from_json(cohort.series_filter)
    differs = wanted is not None and wanted.to_json() != stored_filter.to_json()
    if differs and wanted is not None and _rebind_filter(session, cohort, wanted):
        stored_filter = wanted
    if wanted is not None and wanted.to_json() != stored_filter.to_json():
        raise CohortMismatchError(
            f"cohort {name!r} was recorded with the series filter "
            f"({stored_filter.describe()}); run it without series options to apply it, "
            "or give another --name for another filter"
        )
    stored = cohort_item_keys(session, name)
    if items is not None:
        _check_same_rows(name, stored, items)
    return RecordedCohort(cohort.id, name, len(stored), stored_filter, False)


def _rebind_filter(session: Session, cohort: Cohort, wanted: SeriesFilter) -> bool:
    """Store ``wanted`` in place of the cohort's filter, unless a study was tried under it.

    "Tried under it": a study linked to one of its items whose last try,
    since the cohort was created, applied the stored filter. The update is
    conditional on the filter read, so of two runs rebinding at once one wins
    and the other is refused.
    """
    tried = exists().where(
        COHORT_STUDIES.c.study_find_id == STUDIES_FIND.c.id,
        COHORT_STUDIES.c.cohort_item_id == CohortItem.id,
        CohortItem.cohort_id == cohort.id,
        STUDIES_FIND.c.attempts > 0,
        STUDIES_FIND.c.last_attempt_on >= cohort.created_on,
        STUDIES_FIND.c.series_filter.is_not_distinct_from(cohort.series_filter),
    )
    if session.scalar(select(tried)):
        return False
    done = session.execute(
        update(COHORTS)
        .where(
            COHORTS.c.id == cohort.id,
            COHORTS.c.series_filter.is_not_distinct_from(cohort.series_filter),
        )
        .values(series_filter=wanted.to_json())
    )
    if not getattr(done, "rowcount", 0):
        return False
    session.expire(cohort)
    return True


def _create(
    session: Session,
    name: str,
    items: Sequence[CohortItemKeys],
    wanted: SeriesFilter | None,
    source_file: str | None,
) -> RecordedCohort | None:
    """Record a new cohort with its items; None when another run created it first.

    Insert-or-ignore on the name: of two first runs at once, one creates the
    cohort and its items in its transaction, the other then checks against them.
    """
    row = {
        "name": name,
        "source_file": source_file,
        "series_filter": wanted.to_json() if wanted else None,
        "created_on": utc_now(),
    }
    if not insert_ignore(session, COHORTS, [row], "name"):
        return None
    cohort_id = session.scalar(select(Cohort.id).where(Cohort.name == name))
    assert cohort_id is not None
    session.add_all(
        CohortItem(
            cohort_id=cohort_id,
            row_number=item.row,
            accession_number=item.accession_number,
            patient_id=item.patient_id,
            study_uid=item.study_uid,
            study_date=item.study_date,
            modalities="\\".join(item.modalities) or None,
        )
        for item in items
    )
    session.flush()
    return RecordedCohort(cohort_id, name, len(items), wanted or SeriesFilter(), True)


def _check_same_rows(
    name: str, stored: Sequence[CohortItemKeys], items: Sequence[CohortItemKeys]
) -> None:
    # A cohort recorded before repeated rows were left out holds them; compare without.
    distinct: dict[tuple[object, ...], CohortItemKeys] = {}
    for item in stored:
        distinct.setdefault(item.keys(), item)
    stored = list(distinct.values())
    for old, new in zip(stored, items, strict=False):
        if old.keys() != new.keys():
            raise CohortMismatchError(
                f"cohort {name!r} exists with other rows (row {new.row} differs); "
                "give another --name for this file"
            )
    if len(stored) != len(items):
        raise CohortMismatchError(
            f"cohort {name!r} exists with {len(stored)} rows, the file has {len(items)}; "
            "give another --name for this file"
        )


@dataclass(frozen=True)
class ItemsFound:
    """What the find phase of a cohort did: counts and row numbers, no keys."""

    items_queried: int
    items_matched: int
    #: Rows whose C-FIND the PACS refused or cut short.
    items_query_failed: list[int]
    answers: int
    studies_new: int
    seconds: float

    @property
    def items_per_second(self) -> float:
        """Items queried per second, to one decimal (0.0 when no time passed)."""
        return round(self.items_queried / self.seconds, 1) if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data, with the items per second, for summaries."""
        return {**asdict(self), "items_per_second": self.items_per_second}


def find_and_record_items(
    engine: Engine,
    local: LocalAE,
    node: PacsNode,
    cohort: RecordedCohort,
    *,
    web: WebAccess | None = None,
) -> ItemsFound:
    """Query every item of the cohort on one association (C-FIND) or connection (QIDO-RS);
    record and link what each matched.

    Safe to repeat: studies and links already recorded are kept.
    """
    started = time.perf_counter()
    with session_scope(engine) as session:
        items = cohort_item_keys(session, cohort.name)
    finds = find_cohort_items(local, node, items, web=web)
    new = record_item_finds(engine, cohort.cohort_id, finds)
    return ItemsFound(
        items_queried=len(finds),
        items_matched=sum(1 for f in finds if f.studies),
        items_query_failed=[f.row for f in finds if f.error],
        answers=sum(len(f.studies) for f in finds),
        studies_new=new,
        seconds=round(time.perf_counter() - started, 3),
    )


def record_item_finds(engine: Engine, cohort_id: int, finds: Sequence[ItemFind]) -> int:
    """Record the studies each item matched in ``studies_find`` and link them to the item.

    Studies already found (by this cohort, another, or a date-range run) are
    linked, not added twice. One transaction per batch of items; safe to repeat.

    Returns:
        The studies new to ``studies_find``.
    """
    inserted = 0
    for start in range(0, len(finds), _ITEMS_PER_TRANSACTION):
        batch = finds[start : start + _ITEMS_PER_TRANSACTION]
        with session_scope(engine) as session:
            inserted += add_found_studies(session, [ds for f in batch for ds in f.studies]).inserted
            _link(session, cohort_id, batch)
    return inserted


def _link(session: Session, cohort_id: int, finds: Sequence[ItemFind]) -> None:
    rows = {f.row: f for f in finds}
    item_ids = {
        row: item_id
        for row, item_id in session.execute(
            select(CohortItem.row_number, CohortItem.id).where(
                CohortItem.cohort_id == cohort_id, CohortItem.row_number.in_(list(rows))
            )
        )
    }
    uids_of = {
        row: {
            uid
            for ds in found.studies
            if is_valid_uid(uid := str(ds.get("StudyInstanceUID", "")).strip())
        }
        for row, found in rows.items()
    }
    find_ids = key_to_id(session, STUDIES_FIND, "study_uid", set().union(*uids_of.values()))
    links = {
        (item_ids[row], find_ids[uid])
        for row, uids in uids_of.items()
        for uid in uids
        if uid in find_ids
    }
    insert_links(
        session, COHORT_STUDIES, [{"cohort_item_id": i, "study_find_id": f} for i, f in links]
    )
    now = utc_now()
    for row, found in rows.items():
        session.execute(
            update(CohortItem)
            .where(CohortItem.id == item_ids[row])
            .values(queried_on=now, last_error=found.error)
        )
