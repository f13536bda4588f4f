"""The retrieval's entry in a worker process: finish (ingest, judge, record) one study."""

from __future__ import annotations

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.pool_worker import engine_at
from pacsflow.retrieval.one_study import RetrievalRequest, StudyOutcome, Transferred, finish_study

__all__ = ["finish_study_at"]


def finish_study_at(
    url: str, request: RetrievalRequest, transferred: Transferred, web: WebAccess | None
) -> StudyOutcome:
    """:func:`~pacsflow.retrieval.one_study.finish_study` with this worker's engine for ``url``.

    A try cut short by a transient error is returned as ``partial`` (the
    transfer task retried already), as the ``ingest-study`` task always did.
    """
    return finish_study(engine_at(url), request, transferred, web=web, raise_retryable=False)
