"""Tasks of the cohort flow: record the cohort, C-FIND its items, report their status.

Item keys are read from the file or the database inside the tasks and never
leave them: parameters, results and messages carry names, counts and row
numbers only.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.cohorts.bookkeeping import (
    ItemsFound,
    RecordedCohort,
    find_and_record_items,
    record_cohort,
)
from pacsflow.cohorts.cohort_file import CohortSource, read_cohort_file
from pacsflow.cohorts.status import CohortReport, cohort_report
from pacsflow.database.session import session_scope
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.series_filter import SeriesFilter
from tasks.credentials import web_access
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES

__all__ = ["cohort_status_task", "find_cohort_task", "record_cohort_task"]


@task(name="record-cohort", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def record_cohort_task(
    db_url: str, source: CohortSource, series: SeriesFilter | None
) -> RecordedCohort:
    """Read the cohort file (if given) and record the cohort, or check it against the stored one."""
    items = read_cohort_file(source.file) if source.file else None
    with session_scope(engine_for(db_url)) as session:
        return record_cohort(session, source.cohort_name, items, series, source.file)


@task(name="find-cohort-items", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def find_cohort_task(
    db_url: str, local: LocalAE, pacs: PacsNode, cohort: RecordedCohort
) -> ItemsFound:
    """Query every item of the cohort (C-FIND or QIDO-RS) and record what each matched.

    Safe to retry: studies and links already recorded are kept.
    """
    return find_and_record_items(engine_for(db_url), local, pacs, cohort, web=web_access())


@task(name="cohort-status", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def cohort_status_task(db_url: str, name: str) -> CohortReport:
    """Each item's status by row (stored on the items too), and the counts."""
    with session_scope(engine_for(db_url)) as session:
        return cohort_report(session, name, store=True)
