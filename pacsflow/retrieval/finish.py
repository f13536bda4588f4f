"""Finish one transferred study: ingest what arrived, judge completeness, record the try.

A study is marked retrieved only when the transfer ended in Success with no
failed sub-operation *and* the database holds at least as many of its images
as the PACS reported (NumberOfStudyRelatedInstances, or an image-level query
when the C-FIND answer lacked it). Otherwise its try is recorded with the
reason, and the next run picks it again. A study none of whose series match
the series filter is recorded as retrieved with ``selected_series = 0``.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from pacsflow.database.session import session_scope
from pacsflow.dicom.records import ImageRecord
from pacsflow.errors import PacsflowError, PermanentError, RetryableError
from pacsflow.ingest.batch import BatchResult
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.move import MoveResult, move_meaning
from pacsflow.net.nodes import PacsNode
from pacsflow.net.storage_files import study_folder, sync_study_folder
from pacsflow.net.transports.registry import transport_for
from pacsflow.retrieval.attempts import record_attempt, stored_instances
from pacsflow.retrieval.claims import release_claim
from pacsflow.retrieval.outcomes import (
    Outcome,
    RetrievalInterruptedError,
    StudyOutcome,
    Transferred,
    skipped_outcome,
)
from pacsflow.retrieval.planning import pacs_contents
from pacsflow.retrieval.request import RetrievalRequest

LOGGER = logging.getLogger(__name__)

__all__ = ["finish_study"]


def finish_study(
    engine: Engine,
    request: RetrievalRequest,
    transferred: Transferred,
    *,
    web: WebAccess | None = None,
    raise_retryable: bool = True,
) -> StudyOutcome:
    """Ingest what the transfer brought, judge completeness, record the try, release the claim.

    Args:
        raise_retryable: raise :class:`RetrievalInterruptedError` after recording
            a try cut short by a transient error (so a task retry moves the
            rest); False returns the ``partial`` outcome instead (the caller
            retried the transfer already).
    """
    study_uid = transferred.study_uid
    if transferred.skipped is not None:
        return skipped_outcome(transferred)
    try:
        result = _finish_claimed(request, engine, transferred, web)
    except BaseException:  # unexpected: let the next try claim it at once
        with session_scope(engine) as session:
            release_claim(session, study_uid, transferred.holder)
        raise
    if result.outcome == "no_matching_series":
        LOGGER.info("Study %s: no series matches the series filter", study_uid)
    elif result.outcome != "complete":
        LOGGER.warning("Study %s not retrieved completely: %s", study_uid, result.error)
    error = transferred.error
    if raise_retryable and isinstance(error, RetryableError):
        raise RetrievalInterruptedError(study_uid, str(request.pacs), str(error)) from error
    return result


def _ingest_study_folder(
    request: RetrievalRequest, engine: Engine, study_uid: str, arrived: dict[str, ImageRecord]
) -> BatchResult:
    """Ingest every file the SCP holds for the study (files stored before are skipped);
    the rows of ``arrived`` files were made as they arrived, the others are read."""
    folder = study_folder(request.storage, study_uid)
    if not folder.is_dir():
        return BatchResult()
    return ingest_folder(engine, folder, institution=request.institution, arrived=arrived)


def _finish_claimed(
    request: RetrievalRequest, engine: Engine, transferred: Transferred, web: WebAccess | None
) -> StudyOutcome:
    """Ingest and judge a claimed, transferred study; record the try and release the claim."""
    study_uid, move, error = transferred.study_uid, transferred.move, transferred.error
    expected = transferred.expected
    ingested = _ingest_study_folder(request, engine, study_uid, transferred.arrived)
    with session_scope(engine) as session:
        now_stored = stored_instances(session, study_uid)
    counted = transferred.counted if transferred.counted is not None else list(now_stored)
    received = sum(len(now_stored.get(uid, ())) for uid in counted)
    if expected is None and error is None:
        try:
            expected = sum(pacs_contents(request, study_uid, {}, web=web)[1].values())
        except PacsflowError as exc:
            error = exc
    outcome, reason = _judge(request.pacs, move, error, received, expected)
    if outcome == "complete" and transferred.counted == []:
        outcome = "no_matching_series"
    if outcome in ("complete", "no_matching_series"):
        # The receivers leave syncing to here: one sync per study, not per file.
        sync_study_folder(request.storage, study_uid, files=True)
    with session_scope(engine) as session:
        record_attempt(
            session,
            study_uid,
            complete=outcome in ("complete", "no_matching_series"),
            received=received,
            expected=expected,
            error=reason,
            selection=transferred.selection,
        )
        release_claim(session, study_uid, transferred.holder)
    return StudyOutcome(
        study_uid=study_uid,
        outcome=outcome,
        expected=expected,
        received=received,
        images_added=ingested.images_added,
        files_failed=ingested.failed,
        moved=move.completed if move else 0,
        error=reason,
    )


def _judge(
    pacs: PacsNode,
    move: MoveResult | None,
    error: PacsflowError | None,
    received: int,
    expected: int | None,
) -> tuple[Outcome, str | None]:
    """The outcome of a try, and the reason when it is not complete."""
    arrived = f"{received} of {expected if expected is not None else '?'} instances arrived"
    if error is not None:
        kind: Outcome = "failed" if isinstance(error, PermanentError) else "partial"
        return kind, f"{error}; {arrived}"
    if move is not None and not move.succeeded:
        ended = f"the {transport_for(pacs).label} ended with status 0x{move.status:04X}"
        if not (move.completed or move.failed or move.warning):  # "0 sent, 0 failed" is untrue
            return (
                "partial",
                f"{ended} ({move_meaning(move.status)}) with no sub-operation counts; {arrived}",
            )
        return "partial", (
            f"{ended}: {move.completed} sent, {move.failed} failed, {move.warning} warnings; "
            f"{arrived}"
        )
    if expected is None or received < expected:
        return "partial", f"{received} of {expected} images stored"
    return "complete", None
