"""The summary artifacts: what a date range cannot find; what the ingest counted."""

from __future__ import annotations

from flows.summaries import UNDATED_STUDIES_HINT, ingest_summary_table, summary_markdown
from pacsflow.ingest.batch import BatchResult


def test_a_date_range_summary_says_undated_studies_need_a_cohort() -> None:
    text = summary_markdown("pipeline", {"studies_found": 37, "find_queries": 3})
    assert "| studies found | 37 |" in text
    assert text.endswith(f"Note: {UNDATED_STUDIES_HINT}.")
    assert "without a valid StudyDate" in UNDATED_STUDIES_HINT
    assert "PatientID or StudyInstanceUID" in UNDATED_STUDIES_HINT


def test_a_cohort_summary_has_no_date_range_note() -> None:
    assert "StudyDate" not in summary_markdown("cohort c", {"studies_found": 2})


def test_the_ingest_summary_counts_the_headers_pydicom_read() -> None:
    rows = ingest_summary_table(BatchResult(files_seen=10, read_by_pydicom=3), wall_s=2.0)
    values = {row["metric"]: row["value"] for row in rows}
    assert values["headers read by pydicom (not the one-pass reader)"] == 3
    assert values["files/s"] == 5.0
