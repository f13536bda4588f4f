"""Retrieve one study: transfer it, ingest what arrived, judge completeness.

The transfer follows the PACS's transport
(:mod:`pacsflow.net.transports`): a C-MOVE to pacsflow's receiver
(``c-move``), a C-GET on pacsflow's own association (``c-get``), or a
WADO-RS request streamed to files (``dicomweb``, whose queries are QIDO-RS).
Each writes ``<storage>/<study>/<series>/<sop>.dcm``, which is then ingested.

A study is marked retrieved only when the transfer ended in Success with no
failed sub-operation *and* the database holds at least as many of its images
as the PACS reported (NumberOfStudyRelatedInstances, or an image-level C-FIND
when the C-FIND answer lacked it). Otherwise its try is recorded with the
reason, and the next run picks it again. A study retried after a partial
retrieval is moved series by series, only the series still missing images.

With a series filter, the study's series are listed (series-level C-FIND),
only the matching ones are moved (SERIES-level C-MOVE), and completeness is
judged against their instance counts. A study none of whose series match is
recorded as retrieved with ``selected_series = 0``: nothing to move, not an
error, not tried again.

The steps live in their own modules: :mod:`~pacsflow.retrieval.request` (what
a run asks), :mod:`~pacsflow.retrieval.planning` (what a try moves),
:mod:`~pacsflow.retrieval.transfer` (claim and transfer),
:mod:`~pacsflow.retrieval.finish` (ingest, judge, record) and
:mod:`~pacsflow.retrieval.outcomes` (what they return); their public names are
importable from here.
"""

from __future__ import annotations

from sqlalchemy import Engine

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.retrieval.finish import finish_study
from pacsflow.retrieval.outcomes import (
    RetrievalInterruptedError,
    StudyOutcome,
    TransferGaveUpError,
    Transferred,
    skipped_outcome,
)
from pacsflow.retrieval.request import RetrievalRequest
from pacsflow.retrieval.transfer import transfer_study

__all__ = [
    "RetrievalInterruptedError",
    "RetrievalRequest",
    "StudyOutcome",
    "TransferGaveUpError",
    "Transferred",
    "finish_study",
    "retrieve_study",
    "skipped_outcome",
    "transfer_study",
]


def retrieve_study(
    engine: Engine, request: RetrievalRequest, study_uid: str, *, web: WebAccess | None = None
) -> StudyOutcome:
    """Claim one study, transfer it by the PACS's transport, ingest it, record the try.

    :func:`transfer_study` then :func:`finish_study`. ``engine`` is the
    caller's, shared by every study of its run. For ``c-move`` outside a
    transport's run scope the caller runs the storage SCP;
    ``web`` gives the headers and TLS trust of a ``dicomweb`` PACS.

    Returns:
        The outcome: ``complete`` (marked retrieved), ``no_matching_series`` (the
        series filter selects none of its series: marked retrieved, nothing
        moved), ``partial``, ``failed``
        (a permanent error: refused move, unknown destination, ...) or
        ``skipped`` (retrieved already, or claimed by another live run: not
        moved, nothing recorded).

    Raises:
        RetrievalInterruptedError: a transient network failure (retryable); the
            try is recorded first, and a retry moves only what is still missing.
    """
    transferred = transfer_study(engine, request, study_uid, web=web)
    return finish_study(engine, request, transferred, web=web)
