"""C-FIND of studies over a date range, split into windows small enough for the PACS.

Many PACS stop answering a query after a fixed number of matches (100, 500,
1,000) and say so only by a Cancel status (Orthanc: 0xFE00) or not at all. So
the range is queried one window at a time. The first window is a day (by
default); each next one is sized from the studies per day seen so far, to
expect about three quarters of the cap, so a sparse range takes few queries
and a dense one is not cut. A window whose answers reach the cap, end in
Cancel, or are refused for lack of resources is split in halves, by days and
then by StudyTime ranges, down to a minimum window. Answers are deduplicated
by StudyInstanceUID: a study is reported once however many windows saw it.

Studies without a StudyTime cannot match a time range: when a capped day must
be split by time, such studies beyond the cap cannot be found, so the day is
listed in :attr:`FindResult.days_split_by_time` for the caller to report.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from pacsflow.net.dicomweb.access import WebAccess
from pacsflow.net.dicomweb.qido import DEFAULT_PAGE_SIZE
from pacsflow.net.dimse_errors import AssociationAbortedError, DimseFailureError, calling_ae_refused
from pacsflow.net.nodes import LocalAE, PacsNode, Timeouts
from pacsflow.net.queries import Ask
from pacsflow.net.transports.interface import PacsLink
from pacsflow.net.transports.registry import transport_for

LOGGER = logging.getLogger(__name__)

__all__ = ["RETURN_KEYS", "FindResult", "StudyQuery", "find_studies", "study_identifier"]

RETURN_KEYS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "PatientID",
    "PatientName",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedInstances",
)
"""Study-level attributes asked for in every query (returned empty when unknown)."""

_CANCEL = 0xFE00
_OUT_OF_RESOURCES = 0xA700
_DAY = dt.timedelta(days=1)
_TARGET_FILL = 0.75  # expected answers per window, as a share of the cap
_MAX_GROWTH = 4  # a window is at most this many times the previous one


@dataclass(frozen=True)
class StudyQuery:
    """What to find besides the date range.

    Args:
        modalities: match studies holding any of these modalities (ModalitiesInStudy).
        keys: other study-level keys and their match values, e.g.
            ``{"AccessionNumber": "A12*", "StudyDescription": "*CHEST*"}``.
    """

    modalities: Sequence[str] = ()
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FindResult:
    """The studies found, and what it took."""

    studies: list[Dataset] = field(default_factory=list)
    queries: int = 0
    #: Windows still capped at the minimum size: matches beyond the cap may be missing.
    incomplete_windows: list[str] = field(default_factory=list)
    #: Days too full for one query (YYYYMMDD): studies on them with no StudyTime
    #: beyond the cap cannot be found by time ranges.
    days_split_by_time: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Window:
    start: dt.datetime  # inclusive
    end: dt.datetime  # exclusive

    @property
    def whole_days(self) -> bool:
        return self.start.time() == dt.time(0) and self.end.time() == dt.time(0)

    def keys(self) -> tuple[str, str]:
        """StudyDate and StudyTime match values for this window."""
        last = self.end - dt.timedelta(microseconds=1)
        if self.whole_days:
            first_day, last_day = f"{self.start:%Y%m%d}", f"{last:%Y%m%d}"
            return (first_day if first_day == last_day else f"{first_day}-{last_day}"), ""
        return f"{self.start:%Y%m%d}", f"{self.start:%H%M%S}-{last:%H%M%S.%f}"

    def halves(self) -> tuple[_Window, _Window]:
        days = (self.end - self.start) // _DAY
        if self.whole_days and days > 1:
            middle = self.start + (days // 2) * _DAY
        else:
            middle = self.start + (self.end - self.start) / 2
        return _Window(self.start, middle), _Window(middle, self.end)

    def __str__(self) -> str:
        date, time = self.keys()
        return f"StudyDate={date}" + (f" StudyTime={time}" if time else "")


def study_identifier(study_date: str, study_time: str, query: StudyQuery) -> Dataset:
    """A STUDY-level C-FIND identifier asking for :data:`RETURN_KEYS`, matching the query."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for keyword in RETURN_KEYS:
        setattr(ds, keyword, "")
    ds.StudyDate, ds.StudyTime = study_date, study_time
    if query.modalities:
        ds.ModalitiesInStudy = list(query.modalities)
    for keyword, value in query.keys.items():
        setattr(ds, keyword, value)
    return ds


def _query(
    ask: Ask, node: PacsNode, window: _Window, query: StudyQuery, cap: int
) -> tuple[list[Dataset], bool]:
    """One query; returns the answers and whether they were cut short."""
    what = f"the {transport_for(node).query_label} query for {window}"
    answers, code = ask(study_identifier(*window.keys(), query), what)
    if code == 0x0000:
        return answers, len(answers) >= cap
    if code in (_CANCEL, _OUT_OF_RESOURCES):
        return answers, True
    raise DimseFailureError(f"{node} refused {what} with status 0x{code:04X}", code)


def find_studies(
    local: LocalAE,
    node: PacsNode,
    start: dt.date,
    end: dt.date | None = None,
    query: StudyQuery | None = None,
    *,
    cap: int = 1000,
    window: dt.timedelta = _DAY,
    min_window: dt.timedelta = dt.timedelta(hours=1),
    timeouts: Timeouts | None = None,
    web: WebAccess | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> FindResult:
    """Find the studies dated ``start`` to ``end`` (inclusive; default ``start``) on ``node``.

    By C-FIND, or by QIDO-RS for a ``dicomweb`` node (paged by ``page_size``
    answers, with ``web``'s headers); the same windows either way.

    Args:
        cap: the number of answers at which the PACS is assumed to stop; a
            window answering this many is split.
        window: the first window, whole days (default one day); later ones are
            sized from the density of studies seen.
        min_window: no window is split below this size.

    Raises:
        ValueError: ``end`` is before ``start``, or a window size is not positive.
        DimseFailureError: the PACS refused a query (permanent).
        PacsUnreachableError / AssociationBusyError / AssociationAbortedError /
            DimseTimeoutError: retryable failures.
        AssociationRejectedError: the PACS rejected the association for good.
        CallingAeRefusedError: the PACS rejected pacsflow's AE title, or aborted
            the association at the first query (Orthanc's answer to an unknown
            calling AE title): permanent.
    """
    last_day = end or start
    if last_day < start:
        raise ValueError(f"the end date {last_day} is before the start date {start}")
    if window < _DAY or window % _DAY or min_window <= dt.timedelta(0) or cap < 1:
        raise ValueError("window must be whole days, min_window and cap positive")
    query = query or StudyQuery()
    result = FindResult()
    seen: set[str] = set()
    cursor = dt.datetime.combine(start, dt.time(0))
    stop = dt.datetime.combine(last_day, dt.time(0)) + _DAY
    days = window // _DAY  # the size of the next fresh window
    splits: list[_Window] = []  # halves of capped windows, still to query
    link = PacsLink(local, node, timeouts, web)
    with transport_for(node).query_channel(link, page_size=page_size) as ask:
        while splits or cursor < stop:
            fresh = not splits
            if fresh:
                current = _Window(cursor, min(cursor + days * _DAY, stop))
                cursor = current.end
            else:
                current = splits.pop()
            try:
                answers, truncated = _query(ask, node, current, query, cap)
            except AssociationAbortedError as exc:
                if result.queries:
                    raise
                # Aborted at the first request of the association (only associations
                # abort: QIDO-RS never raises this): the PACS (Orthanc does so) does
                # not accept our calling AE title; a retry cannot help.
                raise calling_ae_refused(local, node, "aborted the association for") from exc
            result.queries += 1
            for answer in answers:
                uid = str(answer.get("StudyInstanceUID", "")).strip()
                if uid and uid not in seen:
                    seen.add(uid)
                    result.studies.append(answer)
            span = (current.end - current.start) / _DAY
            if not truncated:
                if fresh:
                    days = _next_days(days, span, len(answers), cap)
                continue
            days = max(1, int(span) // 2)  # the range ahead is likely as dense
            if current.end - current.start <= min_window:
                LOGGER.warning(
                    "%s still capped at %s: answers beyond the cap may be missing", node, current
                )
                result.incomplete_windows.append(str(current))
                continue
            if current.whole_days and current.end - current.start == _DAY:
                result.days_split_by_time.append(f"{current.start:%Y%m%d}")
            first, second = current.halves()
            splits.extend([second, first])
    LOGGER.info("%d studies found on %s in %d queries", len(result.studies), node, result.queries)
    return result


def _next_days(days: int, span: float, answers: int, cap: int) -> int:
    """Whole days for the next window: about :data:`_TARGET_FILL` of the cap at the density seen."""
    if answers == 0:
        return days * _MAX_GROWTH
    fitting = int(span * _TARGET_FILL * cap / answers)
    return max(1, min(fitting, days * _MAX_GROWTH))
