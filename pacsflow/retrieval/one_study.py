"""Retrieve one study: transfer it, ingest what arrived, judge completeness.

The transfer follows the PACS's transport: a C-MOVE to the running storage
SCP (``c-move``), a C-GET on pacsflow's own association (``c-get``), or a
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
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select

from pacsflow.database.models import StudyFind
from pacsflow.database.session import session_scope
from pacsflow.dicom.records import ImageRecord
from pacsflow.errors import PacsflowError, PermanentError, RetryableError
from pacsflow.ingest.arrivals import Arrivals
from pacsflow.ingest.batch import BatchResult
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dicomweb.client import DicomWebClient
from pacsflow.net.dicomweb.wado import retrieve_study_wado
from pacsflow.net.get import get_study, study_kinds
from pacsflow.net.move import MoveResult, move_meaning, move_study
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.queries import query_channel
from pacsflow.net.storage_files import prepare_storage, study_folder, sync_study_folder
from pacsflow.net.study_contents import find_study_instances, find_study_series
from pacsflow.retrieval.attempts import SeriesSelection, record_attempt, stored_instances
from pacsflow.retrieval.claims import DEFAULT_LEASE, claim_study, new_claim_holder, release_claim
from pacsflow.retrieval.series_filter import SeriesFilter

LOGGER = logging.getLogger(__name__)

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

Outcome = Literal["complete", "partial", "failed", "skipped", "no_matching_series", "not_started"]


class RetrievalInterruptedError(RetryableError):
    """A transient failure while retrieving one study; names the study and the PACS."""

    def __init__(self, study_uid: str, pacs: str, cause: str) -> None:
        self.study_uid, self.pacs, self.cause = study_uid, pacs, cause
        super().__init__(
            f"the retrieval of study {study_uid} from {pacs} was interrupted: {cause}; "
            "a retry moves only what is still missing"
        )

    def __reduce__(self) -> tuple[type[RetrievalInterruptedError], tuple[str, str, str]]:
        return type(self), (self.study_uid, self.pacs, self.cause)


@dataclass(frozen=True)
class RetrievalRequest:
    """Everything needed to retrieve studies from one PACS into one database.

    Args:
        local: pacsflow's AE; its AE title is the C-MOVE destination.
        pacs: the PACS to move from.
        storage: the storage SCP's folder.
        institution: stored with each patient and image.
        timeouts: network timeouts of the C-MOVE and C-FIND associations.
        claim_holder: the name under which studies are claimed (see
            :mod:`pacsflow.retrieval.claims`); one per run, so a Prefect retry of the run's
            task keeps its claim. A new one per call when None.
        claim_lease: how long a claim lasts if this process dies unseen.
        series_filter: retrieve only the series it selects (series-level C-FIND and
            C-MOVE); completeness is judged on them. Empty: the whole study.
        not_after: the end of the run's retrieval window (aware); a study whose
            transfer would start later is not started (not claimed, nothing recorded).
    """

    local: LocalAE
    pacs: PacsNode
    storage: Path
    institution: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    claim_holder: str | None = None
    claim_lease: dt.timedelta = DEFAULT_LEASE
    series_filter: SeriesFilter = field(default_factory=SeriesFilter)
    not_after: dt.datetime | None = None


@dataclass
class StudyOutcome:
    """How the retrieval of one study went. Plain data: UIDs and counts, no patient data."""

    study_uid: str
    outcome: Outcome
    expected: int | None
    received: int
    images_added: int
    files_failed: int
    moved: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a plain dict (for artifacts and JSON output)."""
        return asdict(self)


def _ingest_study_folder(
    request: RetrievalRequest, engine: Engine, study_uid: str, arrived: dict[str, ImageRecord]
) -> BatchResult:
    """Ingest every file the SCP holds for the study (files stored before are skipped);
    the rows of ``arrived`` files were made as they arrived, the others are read."""
    folder = study_folder(request.storage, study_uid)
    if not folder.is_dir():
        return BatchResult()
    return ingest_folder(engine, folder, institution=request.institution, arrived=arrived)


def _pacs_contents(
    request: RetrievalRequest,
    study_uid: str,
    stored: dict[str, set[str]],
    series_uids: list[str] | None = None,
    web: WebAccess | None = None,
) -> tuple[list[str], dict[str, int]]:
    """The series (of the study, or ``series_uids``) still missing images, and their sizes.

    By an image-level query of each series on the PACS.
    """
    on_pacs = find_study_instances(
        request.local,
        request.pacs,
        study_uid,
        series_uids=series_uids,
        timeouts=request.timeouts,
        web=web,
    )
    missing = [uid for uid, sops in sorted(on_pacs.items()) if sops - stored.get(uid, set())]
    return missing, {uid: len(sops) for uid, sops in on_pacs.items()}


@dataclass(frozen=True)
class _Plan:
    """What one try moves, and against what it is judged."""

    #: Series to move; None: the whole study (STUDY-level C-MOVE); empty: nothing.
    to_move: list[str] | None
    expected: int | None
    #: The series that count (a series filter's choice); None: every series.
    counted: list[str] | None = None
    selection: SeriesSelection | None = None


def _whole_study_plan(
    request: RetrievalRequest,
    study_uid: str,
    stored: dict[str, set[str]],
    expected: int | None,
    web: WebAccess | None,
) -> _Plan:
    """The whole study; a retry moves only the series still missing images."""
    if not stored:
        return _Plan(to_move=None, expected=expected)
    missing, sizes = _pacs_contents(request, study_uid, stored, web=web)
    return _Plan(
        to_move=missing, expected=expected if expected is not None else sum(sizes.values())
    )


def _filtered_plan(
    request: RetrievalRequest, study_uid: str, stored: dict[str, set[str]], web: WebAccess | None
) -> _Plan:
    """The series the filter selects (series-level query), those still missing images."""
    series = find_study_series(
        request.local, request.pacs, study_uid, timeouts=request.timeouts, web=web
    )
    by_description = request.series_filter.include_descriptions or (
        request.series_filter.exclude_descriptions
    )
    if by_description and series and all(s.description is None for s in series):
        LOGGER.warning(
            "%s gave no SeriesDescription for the series of study %s: the description "
            "filters see empty descriptions",
            request.pacs,
            study_uid,
        )
    keep = request.series_filter.matches
    chosen = [s for s in series if keep(s.modality, s.description, s.number)]
    counted = [s.series_uid for s in chosen]
    sizes = {s.series_uid: s.instances for s in chosen}
    if any(size is None for size in sizes.values()):  # the PACS did not count: list them
        missing, counts = _pacs_contents(request, study_uid, stored, counted, web)
    else:
        counts = {uid: size or 0 for uid, size in sizes.items()}
        missing = [uid for uid in counted if len(stored.get(uid, ())) < counts[uid]]
    expected = sum(counts.values())
    selection = SeriesSelection(request.series_filter.to_json(), len(counted), expected)
    return _Plan(to_move=missing, expected=expected, counted=counted, selection=selection)


def _transfer(
    request: RetrievalRequest,
    study_uid: str,
    series_uids: list[str],
    web: WebAccess | None,
    arrivals: Arrivals,
) -> MoveResult:
    """Transfer the study (or ``series_uids``) by the PACS's transport into the storage.

    C-GET and WADO-RS keep the rows of what they receive in ``arrivals`` (the
    receiver service of C-MOVE is another process: its files are read by the ingest).
    """
    pacs = request.pacs
    if pacs.transport == "c-move":
        return move_study(
            request.local,
            pacs,
            study_uid,
            request.local.ae_title,
            series_uids=series_uids,
            timeouts=request.timeouts,
        )
    prepare_storage(request.storage)
    if pacs.transport == "dicomweb":
        with DicomWebClient(pacs.web_url, web) as client:
            return retrieve_study_wado(
                client, request.storage, study_uid, series_uids=series_uids, arrivals=arrivals
            )
    with query_channel(request.local, pacs, timeouts=request.timeouts) as ask:
        kinds = study_kinds(ask, study_uid, series_uids)
    return get_study(
        request.local,
        pacs,
        study_uid,
        request.storage,
        series_uids=series_uids,
        kinds=kinds,
        timeouts=request.timeouts,
        arrivals=arrivals,
    )


@dataclass(frozen=True)
class Transferred:
    """What the transfer of one study did, handed to :func:`finish_study` (maybe in another
    process: plain, picklable data).

    ``skipped`` holds the reason when the study was not claimed (nothing
    transferred, nothing to finish).
    """

    study_uid: str
    holder: str
    expected: int | None = None
    #: The series that count (a series filter's choice); None: every series.
    counted: list[str] | None = None
    selection: SeriesSelection | None = None
    move: MoveResult | None = None
    error: PacsflowError | None = None
    skipped: str | None = None
    #: Skipped because the run's retrieval window had ended.
    not_started: bool = False
    #: The rows of the files received, made on arrival, by path (C-GET and WADO-RS).
    arrived: dict[str, ImageRecord] = field(default_factory=dict)


class TransferGaveUpError(RetryableError):
    """The transfer of a study failed on every try of a run; the next run tries again."""


def _files_on_disk(storage: Path, study_uid: str) -> dict[str, set[str]]:
    """The SOPInstanceUIDs of the files already in the study's folder, by series."""
    folder = study_folder(storage, study_uid)
    if not folder.is_dir():
        return {}
    return {
        series.name: {f.name.removesuffix(".dcm") for f in series.glob("*.dcm")}
        for series in folder.iterdir()
        if series.is_dir()
    }


def transfer_study(
    engine: Engine, request: RetrievalRequest, study_uid: str, *, web: WebAccess | None = None
) -> Transferred:
    """Claim one study and transfer what it still misses by the PACS's transport.

    What is missing is judged against the images in the database and the
    files already in the study's folder (a transfer cut short keeps its whole
    files), so a repeated call moves only the rest. Errors of the transfer
    are kept in the result, not raised; the claim stays held for
    :func:`finish_study`, which must follow (it releases it).

    Raises:
        Only unexpected errors (the claim is released first).
    """
    holder = request.claim_holder or new_claim_holder()
    if request.not_after is not None and dt.datetime.now(dt.UTC) >= request.not_after:
        why = f"not started: the retrieval window ended at {request.not_after:%Y-%m-%d %H:%M:%S %Z}"
        return Transferred(study_uid, holder, skipped=why, not_started=True)
    with session_scope(engine) as session:
        claim = claim_study(session, study_uid, holder, request.claim_lease)
    if not claim.granted:
        LOGGER.info("Study %s skipped: %s", study_uid, claim.reason)
        return Transferred(study_uid, holder, skipped=claim.reason or "claimed")
    try:
        with session_scope(engine) as session:
            expected = session.scalar(
                select(StudyFind.expected_instances).where(StudyFind.study_uid == study_uid)
            )
            stored = stored_instances(session, study_uid)
        for series_uid, sops in _files_on_disk(request.storage, study_uid).items():
            stored.setdefault(series_uid, set()).update(sops)
        move: MoveResult | None = None
        error: PacsflowError | None = None
        plan = _Plan(to_move=[], expected=expected)
        arrivals = Arrivals(request.institution)
        try:
            if request.series_filter.active:
                plan = _filtered_plan(request, study_uid, stored, web)
            else:
                plan = _whole_study_plan(request, study_uid, stored, expected, web)
            if plan.to_move is None or plan.to_move:
                move = _transfer(request, study_uid, plan.to_move or [], web, arrivals)
        except PacsflowError as exc:
            error = exc
    except BaseException:  # unexpected: let the next try claim it at once
        with session_scope(engine) as session:
            release_claim(session, study_uid, holder)
        raise
    return Transferred(
        study_uid,
        holder,
        plan.expected,
        plan.counted,
        plan.selection,
        move,
        error,
        arrived=arrivals.records(),
    )


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


def skipped_outcome(transferred: Transferred) -> StudyOutcome:
    """The outcome of a study not transferred: ``skipped`` (claimed elsewhere, retrieved
    meanwhile) or ``not_started`` (the window had ended)."""
    kind: Outcome = "not_started" if transferred.not_started else "skipped"
    return StudyOutcome(transferred.study_uid, kind, None, 0, 0, 0, 0, transferred.skipped)


def retrieve_study(
    engine: Engine, request: RetrievalRequest, study_uid: str, *, web: WebAccess | None = None
) -> StudyOutcome:
    """Claim one study, transfer it by the PACS's transport, ingest it, record the try.

    :func:`transfer_study` then :func:`finish_study`. ``engine`` is the
    caller's, shared by every study of its run. For ``c-move`` the storage SCP
    must be running; ``web`` gives the headers and TLS trust of a ``dicomweb`` PACS.

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
            expected = sum(_pacs_contents(request, study_uid, {}, web=web)[1].values())
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


_TRANSFER_NAMES = {"c-move": "C-MOVE", "c-get": "C-GET", "dicomweb": "WADO-RS retrieval"}


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
        ended = f"the {_TRANSFER_NAMES[pacs.transport]} ended with status 0x{move.status:04X}"
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
