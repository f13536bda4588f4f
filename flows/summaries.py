"""The summaries flows publish as artifacts and return: counts, and what went wrong.

Kept beside the flows so that a flow reads as the chain of its tasks.
"""

from __future__ import annotations

from typing import Any

from flows.results import MoveSummary
from pacsflow.ingest.batch import BatchResult
from pacsflow.retrieval.one_study import StudyOutcome

__all__ = [
    "UNDATED_STUDIES_HINT",
    "IncompleteRunError",
    "check_complete",
    "ingest_summary_table",
    "move_summary",
    "summary_markdown",
]

_MAX_LISTED = 50  # incomplete studies listed in the summary artifact

UNDATED_STUDIES_HINT = (
    "a date range never finds studies without a valid StudyDate (empty, or not YYYYMMDD): "
    "use a cohort by PatientID or StudyInstanceUID for those (pacsflow cohort run)"
)
"""Said by every date-range find: the PACS cannot match an undated study to a range."""


def summary_markdown(title: str, summary: dict[str, Any]) -> str:
    """The run's counts, and the incomplete studies, as a Markdown artifact body.

    ``summary`` is a result's JSON form (``as_dict()`` of :mod:`flows.results`).

    A date-range run's summary (one with ``find_queries``) also says that
    undated studies cannot be found that way (:data:`UNDATED_STUDIES_HINT`).
    """
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [
        f"| {key.replace('_', ' ')} | {value} |"
        for key, value in summary.items()
        if not isinstance(value, list | dict)
    ]
    if "find_queries" in summary:
        lines += ["", f"Note: {UNDATED_STUDIES_HINT}."]
    incomplete = summary.get("incomplete", [])
    if incomplete:
        lines += ["", "## Studies not retrieved completely", ""]
        lines += [
            "| StudyInstanceUID | outcome | stored / expected | reason |",
            "|---|---|---|---|",
        ]
        for item in incomplete[:_MAX_LISTED]:
            reason = str(item["error"] or "").replace("|", "/")
            lines.append(
                f"| {item['study_uid']} | {item['outcome']} | "
                f"{item['received']} / {item['expected']} | {reason} |"
            )
        if len(incomplete) > _MAX_LISTED:
            lines.append(f"| ... and {len(incomplete) - _MAX_LISTED} more | | | |")
    skipped = summary.get("skipped", [])
    if skipped:
        lines += ["", "## Studies skipped (claimed by another run, or retrieved meanwhile)", ""]
        lines += [f"- {item['study_uid']}: {item['error']}" for item in skipped[:_MAX_LISTED]]
    not_started = summary.get("not_started", [])
    if not_started:
        lines += ["", "## Studies not started (the retrieval window ended)", ""]
        lines += [f"- {uid}" for uid in not_started[:_MAX_LISTED]]
    given_up = summary.get("given_up", [])
    if given_up:
        lines += ["", f"## Given up after {summary['max_attempts']} attempts", ""]
        lines += [f"- {uid}" for uid in given_up[:_MAX_LISTED]]
    return "\n".join(lines)


def move_summary(
    outcomes: list[StudyOutcome], given_up: list[str], max_attempts: int, wall_s: float
) -> MoveSummary:
    """The summary of a move's outcomes."""

    def count(outcome: str) -> int:
        return sum(1 for o in outcomes if o.outcome == outcome)

    images = sum(o.images_added for o in outcomes)
    return MoveSummary(
        studies_picked=len(outcomes),
        studies_complete=count("complete"),
        studies_no_matching_series=count("no_matching_series"),
        studies_partial=count("partial"),
        studies_failed=count("failed"),
        studies_skipped=count("skipped"),
        studies_not_started=count("not_started"),
        studies_given_up=len(given_up),
        max_attempts=max_attempts,
        instances_moved=sum(o.moved for o in outcomes),
        images_added=images,
        files_failed=sum(o.files_failed for o in outcomes),
        seconds=round(wall_s, 3),
        images_per_second=round(images / wall_s, 1) if wall_s else 0.0,
        incomplete=[o for o in outcomes if o.outcome in ("partial", "failed")],
        skipped=[o for o in outcomes if o.outcome == "skipped"],
        not_started=[o.study_uid for o in outcomes if o.outcome == "not_started"],
        given_up=given_up,
    )


def ingest_summary_table(result: BatchResult, wall_s: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"metric": "files seen", "value": result.files_seen},
        {"metric": "images added", "value": result.images_added},
        {"metric": "unchanged files skipped", "value": result.unchanged},
        {"metric": "already present (same SOPInstanceUID)", "value": result.already_present},
        {"metric": "failed", "value": result.failed},
        {"metric": "skipped (DICOM files holding no instance)", "value": result.skipped},
        {"metric": "parent conflicts (see ingest_conflicts)", "value": result.conflicts},
        {
            "metric": "headers read by pydicom (not the one-pass reader)",
            "value": result.read_by_pydicom,
        },
        {"metric": "patients added", "value": result.patients_added},
        {"metric": "studies added", "value": result.studies_added},
        {"metric": "series added", "value": result.series_added},
        {"metric": "seconds", "value": round(wall_s, 2)},
        {"metric": "files/s", "value": round(result.files_seen / wall_s, 1) if wall_s else 0},
    ]
    rows += [
        {"metric": f"failed: {reason}", "value": count}
        for reason, count in sorted(result.failed_by_reason.items())
    ]
    rows += [
        {"metric": f"skipped: {reason}", "value": count}
        for reason, count in sorted(result.skipped_by_reason.items())
    ]
    return rows


class IncompleteRunError(RuntimeError):
    """A run asked to fail on incomplete studies had some (``fail_on_incomplete``)."""


def check_complete(summary: MoveSummary, what: str) -> None:
    """Raise :class:`IncompleteRunError` if the run left studies partial or failed.

    Called last, after the summary artifact is published, by runs with
    ``fail_on_incomplete``.
    """
    partial, failed = summary.studies_partial, summary.studies_failed
    if partial or failed:
        raise IncompleteRunError(
            f"{what}: {partial} studies partial and {failed} failed of "
            f"{summary.studies_picked} picked (see its summary artifact); they are "
            "tried again by the next run"
        )
