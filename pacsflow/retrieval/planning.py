"""What one try of a study moves, and against what it is judged.

What is missing is judged against the images in the database and the files
already in the study's folder. A study never tried is moved whole (one
STUDY-level request); a retry after a partial retrieval moves only the series
still missing images. With a series filter, the study's series are listed
(series-level query), only the matching ones still missing images are moved,
and completeness is judged against their instance counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.storage_files import study_folder
from pacsflow.net.study_contents import find_study_instances, find_study_series
from pacsflow.retrieval.attempts import SeriesSelection
from pacsflow.retrieval.request import RetrievalRequest

LOGGER = logging.getLogger(__name__)

__all__ = ["TransferPlan", "files_on_disk", "pacs_contents", "plan_transfer"]


@dataclass(frozen=True)
class TransferPlan:
    """What one try moves, and against what it is judged."""

    #: Series to move; None: the whole study (one STUDY-level request); empty: nothing.
    to_move: list[str] | None
    expected: int | None
    #: The series that count (a series filter's choice); None: every series.
    counted: list[str] | None = None
    selection: SeriesSelection | None = None

    @property
    def moves_something(self) -> bool:
        """Whether the try transfers anything (the whole study, or some series)."""
        return self.to_move is None or bool(self.to_move)


def files_on_disk(storage: Path, study_uid: str) -> dict[str, set[str]]:
    """The SOPInstanceUIDs of the files already in the study's folder, by series."""
    folder = study_folder(storage, study_uid)
    if not folder.is_dir():
        return {}
    return {
        series.name: {f.name.removesuffix(".dcm") for f in series.glob("*.dcm")}
        for series in folder.iterdir()
        if series.is_dir()
    }


def pacs_contents(
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


def plan_transfer(
    request: RetrievalRequest,
    study_uid: str,
    stored: dict[str, set[str]],
    expected: int | None,
    web: WebAccess | None,
) -> TransferPlan:
    """What to move of the study, given the instances ``stored`` already, by series.

    Args:
        expected: the study's instances as its C-FIND answer counted them (None: unknown).

    Raises:
        The errors of the queries (:mod:`pacsflow.net.study_contents`).
    """
    if request.series_filter.active:
        return _filtered_plan(request, study_uid, stored, web)
    # The whole study; a retry moves only the series still missing images.
    if not stored:
        return TransferPlan(to_move=None, expected=expected)
    missing, sizes = pacs_contents(request, study_uid, stored, web=web)
    return TransferPlan(
        to_move=missing, expected=expected if expected is not None else sum(sizes.values())
    )


def _filtered_plan(
    request: RetrievalRequest, study_uid: str, stored: dict[str, set[str]], web: WebAccess | None
) -> TransferPlan:
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
        missing, counts = pacs_contents(request, study_uid, stored, counted, web)
    else:
        counts = {uid: size or 0 for uid, size in sizes.items()}
        missing = [uid for uid in counted if len(stored.get(uid, ())) < counts[uid]]
    expected = sum(counts.values())
    selection = SeriesSelection(request.series_filter.to_json(), len(counted), expected)
    return TransferPlan(to_move=missing, expected=expected, counted=counted, selection=selection)
