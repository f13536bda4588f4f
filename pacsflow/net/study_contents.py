"""What a study holds on the PACS: its series and their SOPInstanceUIDs, by C-FIND.

Needed when the study-level C-FIND answer gave no NumberOfStudyRelatedInstances
(DCMTK's dcmqrscp never does): completeness is then judged against this list.
The queries are hierarchical (series, then the images of each series), which
every Study Root C-FIND SCP must accept.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from pacsflow.net.association import (
    DimseFailureError,
    PendingTally,
    c_find_answers,
    open_association,
)
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts

__all__ = ["find_study_instances"]


def find_study_instances(
    local: LocalAE, node: PacsNode, study_uid: str, *, timeouts: Timeouts | None = None
) -> dict[str, set[str]]:
    """The SOPInstanceUIDs of each series of the study, as ``node`` lists them.

    Raises:
        DimseFailureError: the PACS refused a query or cut its answers short (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    contents: dict[str, set[str]] = {}
    with open_association(
        local, node, [StudyRootQueryRetrieveInformationModelFind], timeouts=timeouts
    ) as assoc:
        tally = PendingTally(assoc)
        series_query = Dataset()
        series_query.QueryRetrieveLevel = "SERIES"
        series_query.StudyInstanceUID = study_uid
        series_query.SeriesInstanceUID = ""
        for answer in _answers(
            assoc, tally, node, series_query, f"the series of study {study_uid}"
        ):
            series_uid = str(answer.get("SeriesInstanceUID", "")).strip()
            if series_uid:
                contents.setdefault(series_uid, set())
        for series_uid, sop_uids in contents.items():
            image_query = Dataset()
            image_query.QueryRetrieveLevel = "IMAGE"
            image_query.StudyInstanceUID = study_uid
            image_query.SeriesInstanceUID = series_uid
            image_query.SOPInstanceUID = ""
            what = f"the images of series {series_uid}"
            for answer in _answers(assoc, tally, node, image_query, what):
                sop_uid = str(answer.get("SOPInstanceUID", "")).strip()
                if sop_uid:
                    sop_uids.add(sop_uid)
    return contents


def _answers(
    assoc: Association, tally: PendingTally, node: PacsNode, query: Dataset, what: str
) -> list[Dataset]:
    """Every answer of one C-FIND; an error unless it ends in Success with none lost."""
    answers, code = c_find_answers(
        assoc,
        tally,
        node,
        query,
        StudyRootQueryRetrieveInformationModelFind,
        f"the C-FIND of {what}",
    )
    if code == 0x0000:
        return answers
    raise DimseFailureError(
        f"{node} answered the C-FIND of {what} with status 0x{code:04X}"
        + (" (answers cut short)" if code == 0xFE00 else ""),
        code,
    )
