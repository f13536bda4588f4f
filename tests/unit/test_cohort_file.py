"""Reading cohort files: what is accepted, and one clear line for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsflow.cohorts.cohort_file import (
    CohortFileError,
    CohortItemKeys,
    CohortSource,
    load_cohort_file,
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
        ("Patient Name,StudyDate\nx,20240101\n", "header: no key column; give at least"),
        ("PatientID,Patient-ID\nP1,P1\n", "columns 1 'PatientID' and 2 'Patient-ID' both mean"),
        ("AccessionNumber,StudyDate\nA1,\n,20240101\n", "row 2: no AccessionNumber, Pati"),
        ("PatientID,StudyDate\nP1,01/02/2024\n", "row 1: StudyDate is not YYYYMMDD"),
        ("PatientID,StudyDate\nP1,2024-0101\n", "row 1: StudyDate is not YYYYMMDD"),
        ("AccessionNumber\nA1\n1.23457E+11\n", "row 2: AccessionNumber is a number in scien"),
        ('PatientID\n"1,2E+10"\n', "row 1: PatientID is a number in scientific notation"),
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


def _excel(tmp_path: Path, rows: list[str], name: str = "excel.csv") -> Path:
    """A file as European Excel saves "CSV UTF-8": BOM, ';', CRLF, quoted cells."""
    path = tmp_path / name
    path.write_bytes("\r\n".join(rows).encode("utf-8-sig") + b"\r\n")
    return path


def test_a_file_as_excel_writes_it_is_read(tmp_path: Path) -> None:
    path = _excel(
        tmp_path,
        [
            "Accession Number;Patient Name;Patient-ID;Study Instance UID;Study Date;Modality;;",
            '"A1";"Doe^John";P1;;2024-01-05;CT;;',
            f'A2;"Roe; Jane";"P 2";{UID};20240101 - 20240131;"CT\\MR";;',
            ";;;;;;;",  # rows Excel leaves after the data
            ";;;;;;;",
        ],
    )
    cohort = load_cohort_file(path)
    assert cohort.items == [
        CohortItemKeys(
            row=1, accession_number="A1", patient_id="P1", study_date="20240105", modalities=("CT",)
        ),
        CohortItemKeys(
            row=2,
            accession_number="A2",
            patient_id="P 2",
            study_uid=UID,
            study_date="20240101-20240131",
            modalities=("CT", "MR"),
        ),
    ]
    assert cohort.ignored_columns == ("Patient Name",)
    assert cohort.notes == ["ignored columns (not cohort columns): 'Patient Name'"]
    assert read_cohort_file(path) == cohort.items


@pytest.mark.parametrize(
    ("header", "column"),
    [
        (name, column)
        for column, names in {
            "AccessionNumber": [
                "Accession Number", "accession_number", "Accession #", "Acc No", "ACCESSION",
                "Acc. Nr.", "AccessionNumber",
            ],
            "StudyInstanceUID": ["Study UID", "Study Instance UID", "StudyInstanceUID"],
            "PatientID": ["MRN", "Patient ID", "PatientID", "Patient-ID", "patient_id"],
        }.items()
        for name in names
    ],
)  # fmt: skip
def test_common_spellings_of_the_key_columns(tmp_path: Path, header: str, column: str) -> None:
    value = UID if column == "StudyInstanceUID" else "K 1"
    (item,) = read_cohort_file(_excel(tmp_path, [f"{header};Study Date", f"{value};19970424"]))
    keys = {
        "AccessionNumber": item.accession_number,
        "PatientID": item.patient_id,
        "StudyInstanceUID": item.study_uid,
    }
    assert (keys.pop(column), item.study_date) == (value, "19970424")
    assert set(keys.values()) == {None}


def test_other_columns_are_named_in_one_note_and_never_their_values(tmp_path: Path) -> None:
    path = _excel(
        tmp_path,
        ["Patient Name;MRN;Notes;Date of Birth", "SECRET^NAME;P1;SECRET note;19700101"],
    )
    cohort = load_cohort_file(path)
    assert cohort.items == [CohortItemKeys(row=1, patient_id="P1")]
    assert cohort.notes == [
        "ignored columns (not cohort columns): 'Patient Name', 'Notes', 'Date of Birth'"
    ]


def test_a_repeated_row_is_counted_once_and_named(tmp_path: Path) -> None:
    rows = ["Accession Number;Patient ID", "A1;P1", "A2;P1", "A3;", "A1;P1", "A2;P2", " A3 ;"]
    cohort = load_cohort_file(_excel(tmp_path, rows))
    assert [(i.row, i.accession_number) for i in cohort.items] == [
        (1, "A1"),
        (2, "A2"),
        (3, "A3"),
        (5, "A2"),  # the same accession with another patient: another item
    ]
    assert cohort.repeats == ((4, 1), (6, 3))
    assert cohort.notes == [
        "row 4 repeats row 1; counted once",
        "row 6 repeats row 3; counted once",
    ]


def test_keys_ending_in_dot_zero_are_kept_as_written_with_a_note(tmp_path: Path) -> None:
    cohort = load_cohort_file(_excel(tmp_path, ["AccessionNumber", "12345.0", "A2", "1.0"]))
    assert [i.accession_number for i in cohort.items] == ["12345.0", "A2", "1.0"]
    assert cohort.decimal_rows == (1, 3)
    assert cohort.notes == [
        "rows 1, 3: a key ends in '.0' (did a spreadsheet turn it into a number?); used as written"
    ]
    assert "12345" not in " ".join(cohort.notes)


def test_unicode_text_cr_line_ends_and_a_separator_line(tmp_path: Path) -> None:
    unicode_text = tmp_path / "unicode.txt"  # Excel's "Unicode Text": UTF-16, tabs
    unicode_text.write_bytes("Patient ID\tModality\r\nMÜLLER1\tMR\r\n".encode("utf-16"))
    assert read_cohort_file(unicode_text) == [
        CohortItemKeys(row=1, patient_id="MÜLLER1", modalities=("MR",))
    ]
    # Old Mac line ends, and Excel's separator line: without it ';' would be taken.
    mac = _write(tmp_path, "sep=,\rPatientID,AccessionNumber;x;y\rP1,A1;2;3\r")
    assert read_cohort_file(mac) == [CohortItemKeys(row=1, patient_id="P1")]
