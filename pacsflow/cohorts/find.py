"""C-FIND of a cohort's items: one exact-key query per item, all on one association.

An item's keys (AccessionNumber, PatientID, StudyInstanceUID, narrowed by
StudyDate and ModalitiesInStudy) are exact values, so the cap-aware splitting
of date ranges does not apply. A query the PACS refuses or cuts short is
recorded on its item and the next item is queried; a lost association fails
the whole call (retryable: repeating it is harmless). Messages name items by
row number only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from pacsflow.cohorts.cohort_file import CohortItemKeys
from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.find import StudyQuery, study_identifier
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for

LOGGER = logging.getLogger(__name__)

__all__ = ["ItemFind", "find_cohort_items"]

_CUT_SHORT = (0xFE00, 0xA700)  # Cancel (Orthanc's cap), out of resources


@dataclass
class ItemFind:
    """The studies the PACS matched for one item, or why its query failed."""

    row: int
    studies: list[Dataset] = field(default_factory=list)
    #: Set when the query was refused or cut short (statuses only, never the keys).
    error: str | None = None


def item_query(item: CohortItemKeys) -> Dataset:
    """The STUDY-level C-FIND identifier of an item."""
    keys = {
        keyword: value
        for keyword, value in (
            ("AccessionNumber", item.accession_number),
            ("PatientID", item.patient_id),
            ("StudyInstanceUID", item.study_uid),
        )
        if value
    }
    return study_identifier(
        item.study_date or "", "", StudyQuery(modalities=item.modalities, keys=keys)
    )


def find_cohort_items(
    local: LocalAE,
    node: PacsNode,
    items: Sequence[CohortItemKeys],
    *,
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
    on_item: Callable[[ItemFind], None] | None = None,
) -> list[ItemFind]:
    """Query every item on one association (C-FIND) or connection (QIDO-RS, ``dicomweb``).

    One :class:`ItemFind` per item, in order.

    Args:
        on_item: called after each item's query (e.g. to show progress).

    Raises:
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError / DimseResponseLostError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
    """
    finds: list[ItemFind] = []
    with transport_for(node).query_channel(PacsLink(local, node, timeouts, web)) as ask:
        for item in items:
            what = f"the query of cohort row {item.row}"
            answers, code = ask(item_query(item), what)
            found = ItemFind(row=item.row, studies=answers)
            if code in _CUT_SHORT:
                found.error = (
                    f"{node} cut {what} short with status 0x{code:04X} after "
                    f"{len(answers)} studies: narrow the row (StudyDate, ModalitiesInStudy)"
                )
            elif code != 0x0000:
                found.error = f"{node} refused {what} with status 0x{code:04X}"
            if found.error:
                LOGGER.warning("%s", found.error)
            finds.append(found)
            if on_item is not None:
                on_item(found)
    LOGGER.info(
        "%d cohort items queried on %s: %d matched at least one study",
        len(finds),
        node,
        sum(1 for f in finds if f.studies),
    )
    return finds
