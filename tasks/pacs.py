"""Tasks that talk to the PACS: C-ECHO, C-FIND of studies, retrieval of one study."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.net.echo import echo
from pacsflow.net.find import StudyQuery, find_studies
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.found import record_found_studies
from pacsflow.retrieval.one_study import RetrievalRequest, StudyOutcome, retrieve_study
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES

__all__ = ["echo_task", "find_studies_task", "retrieve_study_task"]


@task(name="echo", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def echo_task(local: LocalAE, pacs: PacsNode) -> float:
    """C-ECHO the PACS before any work, so a PACS that is down fails the run early."""
    return echo(local, pacs)


@task(name="find-studies", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def find_studies_task(
    db_url: str | None,
    local: LocalAE,
    pacs: PacsNode,
    start: dt.date,
    end: dt.date | None,
    modalities: list[str],
    cap: int,
) -> dict[str, Any]:
    """C-FIND the studies of the date range and record them in studies_find; return counts.

    Safe to retry: studies already recorded are ignored.
    """
    found = find_studies(local, pacs, start, end, StudyQuery(modalities=modalities), cap=cap)
    recorded = record_found_studies(engine_for(db_url), found.studies)
    return {
        "studies_found": len(found.studies),
        "studies_new": recorded.inserted,
        "answers_invalid": len(recorded.invalid),
        "queries": found.queries,
        "incomplete_windows": found.incomplete_windows,
        "days_split_by_time": found.days_split_by_time,
    }


@task(name="retrieve-study", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def retrieve_study_task(
    db_url: str | None, request: RetrievalRequest, study_uid: str
) -> StudyOutcome:
    """Claim one study, C-MOVE it into the running storage SCP, ingest it, record the try.

    Safe to retry: a retry keeps the run's claim and moves only the series
    still missing images.
    """
    return retrieve_study(engine_for(db_url), request, study_uid)
