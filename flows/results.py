"""What the flows return: dataclasses (Prefect serialises them), read by the CLI and parent flows.

Each result's ``as_dict()`` is its JSON form (``--json``, the summary
artifacts): the key names are the ones pacsflow has always printed, which
users' scripts and the tests rely on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pacsflow.cohorts.bookkeeping import ItemsFound
from pacsflow.cohorts.status import CohortReport
from pacsflow.ingest.batch import BatchResult
from pacsflow.retrieval.one_study import StudyOutcome
from tasks.database import DatabaseSummary
from tasks.pacs import FindSummary

__all__ = [
    "CohortSummary",
    "DatabaseSummary",
    "ExportSummary",
    "FindSummary",
    "IngestSummary",
    "MoveSummary",
    "PipelineSummary",
]


@dataclass(frozen=True)
class MoveSummary:
    """A ``move-studies`` run: studies by outcome, and those not retrieved completely."""

    studies_picked: int
    studies_complete: int
    studies_no_matching_series: int
    studies_partial: int
    studies_failed: int
    studies_skipped: int
    studies_not_started: int
    studies_given_up: int
    max_attempts: int
    instances_moved: int
    images_added: int
    files_failed: int
    seconds: float
    images_per_second: float
    incomplete: list[StudyOutcome]
    skipped: list[StudyOutcome]
    not_started: list[str]
    given_up: list[str]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class PipelineSummary:
    """A ``pipeline`` run: its find and move subflows' summaries, and its wall time."""

    find: FindSummary
    move: MoveSummary
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the headline figures at the top, then ``find`` and ``move``."""
        move = self.move.as_dict()
        return {
            "studies_found": self.find.studies_found,
            "studies_new": self.find.studies_new,
            "find_queries": self.find.queries,
            **{k: v for k, v in move.items() if k not in ("seconds", "images_per_second")},
            "seconds": self.seconds,
            "find": self.find.as_dict(),
            "move": move,
        }


_COHORT_MOVE_COUNTS = (
    "studies_picked",
    "studies_complete",
    "studies_no_matching_series",
    "studies_partial",
    "studies_failed",
    "studies_skipped",
    "studies_not_started",
    "images_added",
)


@dataclass(frozen=True)
class CohortSummary:
    """A ``cohort`` run: each item's status, the find of its items, its move subflow."""

    report: CohortReport
    found: ItemsFound
    move: MoveSummary
    seconds: float

    @property
    def done(self) -> bool:
        """Every item found and retrieved."""
        return self.report.done

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the report's counts, find and move counts, then ``items``."""
        report = self.report.as_dict()
        items = report.pop("items")
        found = self.found.as_dict()
        move = self.move.as_dict()
        return {
            **report,
            "studies_new": self.found.studies_new,
            "find_items_per_second": self.found.items_per_second,
            **{key: move[key] for key in _COHORT_MOVE_COUNTS},
            "seconds": self.seconds,
            "find": found,
            "move": move,
            "items": items,
        }


@dataclass(frozen=True)
class ExportSummary:
    """An ``export`` run: studies, files and table rows written; the manifest's path
    (None when no study was selected: nothing was written)."""

    studies: int
    files_copied: int
    files_kept: int
    files_missing: int
    files_to_review: int
    files_excluded: int
    rows: dict[str, int]
    seconds: float
    files_seconds: float
    manifest: str | None

    def counts(self) -> dict[str, Any]:
        """The counts the manifest records."""
        return {k: v for k, v in self.as_dict().items() if k not in _NOT_COUNTS}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


_NOT_COUNTS = ("seconds", "files_seconds", "manifest")


@dataclass(frozen=True)
class IngestSummary:
    """An ``ingest-dir`` run: the batches' counts added up, and its times."""

    counts: BatchResult
    #: Work done inside the batches, summed over workers: the rest of the wall time is
    #: walking the folder, process start-up and Prefect's bookkeeping.
    batch_seconds: float
    seconds: float
    files_per_second: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the counts, then the times."""
        return {
            **self.counts.as_dict(),
            "batch_seconds": self.batch_seconds,
            "seconds": self.seconds,
            "files_per_second": self.files_per_second,
        }
