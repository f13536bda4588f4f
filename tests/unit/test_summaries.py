"""The summary artifacts: a date-range run says what a date range cannot find."""

from __future__ import annotations

from flows.summaries import UNDATED_STUDIES_HINT, summary_markdown


def test_a_date_range_summary_says_undated_studies_need_a_cohort() -> None:
    text = summary_markdown("pipeline", {"studies_found": 37, "find_queries": 3})
    assert "| studies found | 37 |" in text
    assert text.endswith(f"Note: {UNDATED_STUDIES_HINT}.")
    assert "without a valid StudyDate" in UNDATED_STUDIES_HINT
    assert "PatientID or StudyInstanceUID" in UNDATED_STUDIES_HINT


def test_a_cohort_summary_has_no_date_range_note() -> None:
    assert "StudyDate" not in summary_markdown("cohort c", {"studies_found": 2})
