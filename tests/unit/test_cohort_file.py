"""Reading cohort files: what is accepted, and one clear line for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsflow.cohorts.cohort_file import (
    CohortFileError,
    CohortItemKeys,
    CohortSource,
    read_cohort_file,
)

UID = "1.2.840.113619.2.55.3.1"


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "cohort.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_rows_become_items_numbered_from_one(tmp_path: Path) -> None:
    text = (
        "accessionnumber, PatientID ,STUDYINSTANCEUID,StudyDate,ModalitiesInStudy\n"
        "A1,,,,\n"
        "\n"  # a blank line is no item and takes no row number
        ",P 2,,20240101-20240131,ct\\mr\n"
        f",,{UID},20240105,\n"
    )
    assert read_cohort_file(_write(tmp_path, text)) == [
        CohortItemKeys(row=1, accession_number="A1"),
        CohortItemKeys(
            row=2, patient_id="P 2", study_date="20240101-20240131", modalities=("CT", "MR")
        ),
        CohortItemKeys(row=3, study_uid=UID, study_date="20240105"),
    ]


def test_semicolons_tabs_quotes_and_an_excel_byte_order_mark(tmp_path: Path) -> None:
    semicolons = _write(tmp_path, "PatientID;AccessionNumber\nP1;A1\n", encoding="utf-8-sig")
    assert read_cohort_file(semicolons) == [
        CohortItemKeys(row=1, accession_number="A1", patient_id="P1")
    ]
    tabs = _write(tmp_path, 'PatientID\tModalitiesInStudy\n"P,1"\tCT MR\n')
    assert read_cohort_file(tabs) == [
        CohortItemKeys(row=1, patient_id="P,1", modalities=("CT", "MR"))
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty, or no header"),
        ("AccessionNumber\n", "a header but no data rows"),
        ("AccessionNumber,Name\nA1,x\n", "header: unknown column 2 'Name'"),
        ("StudyDate\n20240101\n", "header: no key column"),
        ("PatientID,patientid\nP1,P1\n", "column PatientID appears twice"),
        ("AccessionNumber,PatientID\nA1,\n,\n", "row 2: no AccessionNumber, PatientID or"),
        ("PatientID,StudyDate\nP1,2024-01-01\n", "row 1: StudyDate is not YYYYMMDD"),
        ("PatientID,StudyDate\nP1,20241301\n", "row 1: StudyDate is not a calendar date"),
        ("PatientID,StudyDate\nP1,20240201-20240101\n", "row 1: StudyDate ends before"),
        ("PatientID\nP1\nP*\n", "row 2: PatientID holds a wildcard"),
        ("AccessionNumber\nA12345678901234567\n", "row 1: AccessionNumber is longer"),
        ("StudyInstanceUID\nstudy1\n", "row 1: StudyInstanceUID is not a UID"),
        ("PatientID,ModalitiesInStudy\nP1,C-T\n", "row 1: ModalitiesInStudy holds 'C-T'"),
        ("PatientID,AccessionNumber\nP1\n", "row 1: 1 values for 2 columns"),
    ],
)
def test_a_bad_file_is_refused_with_the_row_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(CohortFileError, match=message.replace("*", r"\*")) as raised:
        read_cohort_file(_write(tmp_path, text))
    assert "\n" not in str(raised.value)


def test_errors_never_quote_a_key(tmp_path: Path) -> None:
    for text in ("PatientID\nSECRET*\n", "AccessionNumber\nSECRET89012345678\n"):
        with pytest.raises(CohortFileError) as raised:
            read_cohort_file(_write(tmp_path, text))
        assert "SECRET" not in str(raised.value)


def test_missing_folder_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(CohortFileError, match="no such file"):
        read_cohort_file(tmp_path / "nope.csv")
    with pytest.raises(CohortFileError, match="a folder"):
        read_cohort_file(tmp_path)
    with pytest.raises(CohortFileError, match="not UTF-8"):
        read_cohort_file(_write(tmp_path, "PatientID\nMüller\n", encoding="latin-1"))


def test_cohort_source_names() -> None:
    assert CohortSource(file="/data/request 42.csv").cohort_name == "request 42"
    assert CohortSource(file="/data/x.csv", name="other").cohort_name == "other"
    assert CohortSource(name="again").cohort_name == "again"
    with pytest.raises(ValueError, match="give a cohort file"):
        CohortSource()
    with pytest.raises(ValueError, match="not a cohort name"):
        CohortSource(name="bad/name")
