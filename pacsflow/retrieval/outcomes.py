"""What the retrieval of one study returns: the transfer's record and the study's outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pacsflow.dicom.records import ImageRecord
from pacsflow.errors import PacsflowError, RetryableError
from pacsflow.net.move import MoveResult
from pacsflow.retrieval.attempts import SeriesSelection

__all__ = [
    "Outcome",
    "RetrievalInterruptedError",
    "StudyOutcome",
    "TransferGaveUpError",
    "Transferred",
    "skipped_outcome",
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


class TransferGaveUpError(RetryableError):
    """The transfer of a study failed on every try of a run; the next run tries again."""


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


@dataclass(frozen=True)
class Transferred:
    """What the transfer of one study did, handed to
    :func:`~pacsflow.retrieval.finish.finish_study` (maybe in another process:
    plain, picklable data).

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


def skipped_outcome(transferred: Transferred) -> StudyOutcome:
    """The outcome of a study not transferred: ``skipped`` (claimed elsewhere, retrieved
    meanwhile) or ``not_started`` (the window had ended)."""
    kind: Outcome = "not_started" if transferred.not_started else "skipped"
    return StudyOutcome(transferred.study_uid, kind, None, 0, 0, 0, 0, transferred.skipped)
