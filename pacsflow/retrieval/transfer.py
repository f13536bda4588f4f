"""Transfer one study: claim it, plan what it misses, move that by the PACS's transport.

The transport (:func:`~pacsflow.net.transports.registry.transport_for`)
writes ``<storage>/<study>/<series>/<sop>.dcm``; :func:`transfer_study` keeps
its result, or its error, for :func:`~pacsflow.retrieval.finish.finish_study`.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine, select

from pacsflow.database.models import StudyFind
from pacsflow.database.session import session_scope
from pacsflow.errors import PacsflowError
from pacsflow.ingest.arrivals import Arrivals
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.move import MoveResult
from pacsflow.net.transports.interface import PacsLink, RetrieveOptions
from pacsflow.net.transports.registry import transport_for
from pacsflow.retrieval.attempts import stored_instances
from pacsflow.retrieval.claims import claim_study, new_claim_holder, release_claim
from pacsflow.retrieval.outcomes import Transferred
from pacsflow.retrieval.planning import TransferPlan, files_on_disk, plan_transfer
from pacsflow.retrieval.request import RetrievalRequest

LOGGER = logging.getLogger(__name__)

__all__ = ["transfer_study"]


def transfer_study(
    engine: Engine, request: RetrievalRequest, study_uid: str, *, web: WebAccess | None = None
) -> Transferred:
    """Claim one study and transfer what it still misses by the PACS's transport.

    What is missing is judged against the images in the database and the
    files already in the study's folder (a transfer cut short keeps its whole
    files), so a repeated call moves only the rest. Errors of the transfer
    are kept in the result, not raised; the claim stays held for
    :func:`~pacsflow.retrieval.finish.finish_study`, which must follow (it releases it).

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
        for series_uid, sops in files_on_disk(request.storage, study_uid).items():
            stored.setdefault(series_uid, set()).update(sops)
        move: MoveResult | None = None
        error: PacsflowError | None = None
        plan = TransferPlan(to_move=[], expected=expected)
        arrivals = Arrivals(request.institution)
        try:
            plan = plan_transfer(request, study_uid, stored, expected, web)
            if plan.moves_something:
                move = transport_for(request.pacs).retrieve(
                    PacsLink(request.local, request.pacs, request.timeouts, web),
                    request.storage,
                    study_uid,
                    RetrieveOptions(series_uids=plan.to_move or [], arrivals=arrivals),
                )
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
