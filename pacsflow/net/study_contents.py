"""What a study holds on the PACS: its series (with their attributes) and SOPInstanceUIDs.

Needed when the study-level C-FIND answer gave no NumberOfStudyRelatedInstances
(DCMTK's dcmqrscp never does): completeness is then judged against this list;
and for series filters, which are judged on the series-level answers. The
queries are hierarchical (series, then the images of each series), which
every Study Root C-FIND SCP must accept.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pydicom.dataset import Dataset

from pacsflow.dicom.values import parse_int
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dimse_errors import DimseFailureError
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.queries import Ask
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for

__all__ = ["SeriesOnPacs", "find_study_instances", "find_study_series"]


@dataclass(frozen=True)
class SeriesOnPacs:
    """One series of a study as the PACS describes it (a series-level C-FIND answer)."""

    series_uid: str
    modality: str | None
    description: str | None
    number: int | None
    #: NumberOfSeriesRelatedInstances; None when the PACS did not give it.
    instances: int | None


def find_study_series(
    local: LocalAE,
    node: PacsNode,
    study_uid: str,
    *,
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
) -> list[SeriesOnPacs]:
    """The series of the study on ``node``, by SeriesInstanceUID.

    Raises:
        DimseFailureError: the PACS refused the query or cut its answers short (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    with transport_for(node).query_channel(PacsLink(local, node, timeouts, web)) as ask:
        return _series(ask, node, study_uid)


def find_study_instances(
    local: LocalAE,
    node: PacsNode,
    study_uid: str,
    *,
    series_uids: Collection[str] | None = None,
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
) -> dict[str, set[str]]:
    """The SOPInstanceUIDs of each series of the study (or of ``series_uids``) on ``node``.

    Raises:
        DimseFailureError: the PACS refused a query or cut its answers short (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    contents: dict[str, set[str]] = {}
    with transport_for(node).query_channel(PacsLink(local, node, timeouts, web)) as ask:
        if series_uids is None:
            series_uids = [s.series_uid for s in _series(ask, node, study_uid)]
        for series_uid in sorted(series_uids):
            sop_uids = contents.setdefault(series_uid, set())
            image_query = Dataset()
            image_query.QueryRetrieveLevel = "IMAGE"
            image_query.StudyInstanceUID = study_uid
            image_query.SeriesInstanceUID = series_uid
            image_query.SOPInstanceUID = ""
            what = f"the images of series {series_uid}"
            for answer in _answers(ask, node, image_query, what):
                sop_uid = str(answer.get("SOPInstanceUID", "")).strip()
                if sop_uid:
                    sop_uids.add(sop_uid)
    return contents


def _series(ask: Ask, node: PacsNode, study_uid: str) -> list[SeriesOnPacs]:
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = ""
    query.Modality = ""
    query.SeriesDescription = ""
    query.SeriesNumber = ""
    query.NumberOfSeriesRelatedInstances = ""
    found: dict[str, SeriesOnPacs] = {}
    for answer in _answers(ask, node, query, f"the series of study {study_uid}"):
        series_uid = str(answer.get("SeriesInstanceUID", "")).strip()
        if series_uid and series_uid not in found:
            found[series_uid] = SeriesOnPacs(
                series_uid=series_uid,
                modality=str(answer.get("Modality", "")).strip() or None,
                description=str(answer.get("SeriesDescription", "")).strip() or None,
                number=parse_int(answer.get("SeriesNumber")),
                instances=parse_int(answer.get("NumberOfSeriesRelatedInstances")),
            )
    return [found[uid] for uid in sorted(found)]


def _answers(ask: Ask, node: PacsNode, query: Dataset, what: str) -> list[Dataset]:
    """Every answer of one query; an error unless it ends in Success with none lost."""
    answers, code = ask(query, f"the query of {what}")
    if code == 0x0000:
        return answers
    raise DimseFailureError(
        f"{node} answered the query of {what} with status 0x{code:04X}"
        + (" (answers cut short)" if code == 0xFE00 else ""),
        code,
    )
