"""Tasks that talk to the PACS: C-ECHO, C-FIND of studies, retrieval of one study."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pacsflow.errors import RetryableError
from pacsflow.net.echo import echo
from pacsflow.net.find import StudyQuery, find_studies
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.found import record_found_studies
from pacsflow.retrieval.one_study import (
    RetrievalInterruptedError,
    RetrievalRequest,
    StudyOutcome,
    Transferred,
    finish_study,
    transfer_study,
)
from pacsflow.retrieval.worker import finish_study_at
from tasks.credentials import connect_url, web_access
from tasks.engines import engine_for
from tasks.retry import TRANSIENT_RETRIES
from tasks.worker_pool import in_pool

__all__ = [
    "FindSummary",
    "echo_task",
    "find_studies_task",
    "finish_study_task",
    "transfer_study_task",
]


@dataclass(frozen=True)
class FindSummary:
    """A find: studies found, new in ``studies_find``, invalid answers, queries sent, and
    the windows and days where studies may be missing."""

    studies_found: int
    studies_new: int
    answers_invalid: int
    queries: int
    incomplete_windows: list[str]
    days_split_by_time: list[str]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


@task(name="echo", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def echo_task(local: LocalAE, pacs: PacsNode) -> float:
    """C-ECHO the PACS, then a C-FIND that matches nothing (a QIDO-RS query for
    ``dicomweb``), before any work, so a PACS that is down, or refuses pacsflow's
    AE title or queries, fails the run early (a refusal is permanent: not retried)."""
    return echo(local, pacs, web=web_access())


@task(name="find-studies", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def find_studies_task(
    db_url: str,
    local: LocalAE,
    pacs: PacsNode,
    start: dt.date,
    end: dt.date | None,
    modalities: list[str],
    cap: int,
) -> FindSummary:
    """Find the studies of the date range (C-FIND or QIDO-RS) and record them; return counts.

    Safe to retry: studies already recorded are ignored.
    """
    query = StudyQuery(modalities=modalities)
    found = find_studies(local, pacs, start, end, query, cap=cap, web=web_access())
    recorded = record_found_studies(engine_for(db_url), found.studies)
    return FindSummary(
        studies_found=len(found.studies),
        studies_new=recorded.inserted,
        answers_invalid=len(recorded.invalid),
        queries=found.queries,
        incomplete_windows=found.incomplete_windows,
        days_split_by_time=found.days_split_by_time,
    )


@task(name="transfer-study", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def transfer_study_task(db_url: str, request: RetrievalRequest, study_uid: str) -> Transferred:
    """Claim one study and transfer what it misses by the PACS's transport; no ingest.

    A transient failure is raised so Prefect retries; the retry keeps the
    run's claim and moves only what has not arrived. (Inside the run's
    transport scope, C-MOVE first replaces a receiver that died since the run began.)
    """
    done = transfer_study(engine_for(db_url), request, study_uid, web=web_access())
    if isinstance(done.error, RetryableError):
        raise RetrievalInterruptedError(study_uid, str(request.pacs), str(done.error))
    return done


@task(name="ingest-study", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def finish_study_task(
    db_url: str, request: RetrievalRequest, transferred: Transferred, processes: int = 0
) -> StudyOutcome:
    """Ingest a transferred study, judge it complete or not, record the try, release it.

    Run while the next study arrives: on a thread here, or with ``processes``
    (> 0) by a worker of the process pool of that size (:mod:`tasks.worker_pool`).
    Safe to retry: files already ingested are skipped.
    """
    if processes:
        url = connect_url(db_url)
        return in_pool(processes, finish_study_at, url, request, transferred, web_access())
    engine = engine_for(db_url)
    return finish_study(engine, request, transferred, web=web_access(), raise_retryable=False)
