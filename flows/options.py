"""Grouped flow parameters: which studies to retrieve, and how (rendered as forms in the UI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pacsflow.retrieval.attempts import DEFAULT_MAX_ATTEMPTS
from pacsflow.retrieval.window import parse_until
from pacsflow.site import RetrievalSettings

__all__ = ["CohortSelection", "Pseudonymisation", "Retrieval", "Selection"]


@dataclass(frozen=True)
class Selection:
    """Which found studies a pipeline run retrieves.

    Args:
        modalities: only studies holding one of these modalities (all when empty).
        limit: move at most this many studies in this run (all when None).
        max_attempts: studies tried this often are reported, not moved again.
        retry_earlier: also move unretrieved studies dated before the range
            (found by earlier runs, incomplete then); False keeps to the range.
    """

    modalities: list[str] = field(default_factory=list)
    limit: int | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_earlier: bool = True


@dataclass(frozen=True)
class CohortSelection:
    """Which of a cohort's unretrieved studies a run moves.

    Args:
        limit: move at most this many studies in this run (all when None).
        max_attempts: studies tried this often are reported, not moved again.
    """

    limit: int | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True)
class Retrieval:
    """How studies are found and moved.

    Args:
        concurrency: studies moved at once (C-MOVE associations to the PACS).
        result_cap: the number of C-FIND answers at which the PACS stops;
            reaching it splits the date window.
        institution: stored with patients and images (default: the PACS AE title).
        ingest_workers: where studies are ingested while the next ones arrive:
            0 (default) in threads of the flow's process, beside the transfers;
            N in a pool of N processes (measured slower on 2 cores: see the README).
        until: the end of the retrieval window, ``HH:MM`` (the worker's local
            time; the first such time after the run was scheduled to start): no study is started
            later, those in flight finish, the rest are reported as not started.
        fail_on_incomplete: end the run Failed (after its summary) when a study
            is partial or failed, so that Prefect automations can alert.
    """

    concurrency: int = 1
    result_cap: int = 1000
    institution: str | None = None
    ingest_workers: int = 0
    until: str | None = None
    fail_on_incomplete: bool = False

    def __post_init__(self) -> None:
        if self.until is not None:
            parse_until(self.until)
        # The numbers' checks, once: those of the resolved settings.
        RetrievalSettings(self.concurrency, self.result_cap, None, self.ingest_workers)


@dataclass(frozen=True)
class Pseudonymisation:
    """How an export is pseudonymised (DICOM PS3.15 Annex E Basic Profile, keyed pseudonyms).

    Args:
        key_block: a Prefect Secret block holding the key (default
            ``$PACSFLOW_PSEUDONYM_KEY`` where the flow runs); the key itself is
            never a parameter.
        retain_patient_characteristics: keep age, sex, size and weight.
        exclude_burned_in: leave out files whose pixels may hold text (instead of
            listing them for review).
    """

    key_block: str | None = None
    retain_patient_characteristics: bool = False
    exclude_burned_in: bool = False
