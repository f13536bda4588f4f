"""Conversion of datasets into rows and models: values, required tags, header JSON."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from pacsflow import db
from pacsflow.dicom.reading import read_header
from pacsflow.dicom.records import dcm2records, header_json, study_finding_row
from pacsflow.errors import (
    InvalidDicomError,
    InvalidTagError,
    MissingTagError,
    NotAnInstanceError,
)
from tests.factories import make_dataset, write_dataset

CHARSET_FILES = Path(pydicom.data.__file__).parent / "charset_files"
TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


def test_dcm2records_fills_every_column() -> None:
    ds = make_dataset()
    record = dcm2records(ds, institution="Hosp", filepath="/data/a.dcm")
    assert record.patient == {
        "patient_id": "PID0001",
        "patient_id_missing": False,
        "patient_name": "Test^Patient",
        "patient_birth_date": dt.date(1970, 1, 1),
        "institution": "Hosp",
    }
    assert record.study == {
        "study_uid": ds.StudyInstanceUID,
        "study_date": dt.date(2024, 1, 15),
        "patient_age": 54.0,
        "accession_number": "ACC0001",
    }
    assert record.series == {"series_uid": ds.SeriesInstanceUID, "modality": "CT"}
    image = record.image
    assert image["patient_name"] == "Test^Patient"
    assert image["acquisition_time"] == dt.time(10, 15, 30, 250000)
    assert image["image_uid"] == ds.SOPInstanceUID
    assert image["sop_class_uid"] == ds.SOPClassUID
    assert image["manufacturer"] == "ACME Medical"
    assert image["manufacturer_model_name"] == "Scanner 3000"
    assert image["institution"] == "Hosp"
    assert image["filepath"] == "/data/a.dcm"
    assert image["meta"]["00100020"] == {"vr": "LO", "Value": ["PID0001"]}


@pytest.mark.parametrize(
    ("keyword", "tag"),
    [
        ("StudyInstanceUID", "(0020,000D)"),
        ("SeriesInstanceUID", "(0020,000E)"),
        ("SOPInstanceUID", "(0008,0018)"),
    ],
)
def test_missing_required_identifier_names_tag_and_file(keyword: str, tag: str) -> None:
    ds = make_dataset(**{keyword: None})
    with pytest.raises(MissingTagError) as info:
        dcm2records(ds, filepath="/data/x.dcm")
    assert info.value.keyword == keyword
    assert tag in str(info.value)
    assert "/data/x.dcm" in str(info.value)


@pytest.mark.parametrize("patient_id", [None, "", "   "])
def test_image_without_patient_id_belongs_to_the_stand_in_patient_of_its_study(
    patient_id: str | None,
) -> None:
    ds = make_dataset(PatientID=patient_id)
    record = dcm2records(ds, filepath="/data/anon.dcm")
    key = f"no-patient-id:{ds.StudyInstanceUID}"
    assert record.patient["patient_id"] == key
    assert record.patient["patient_id_missing"] is True
    assert record.image["patient_id"] == key
    assert db.dcm2patient(ds).patient_id == key


def test_stand_in_patient_needs_a_study_uid() -> None:
    with pytest.raises(MissingTagError, match="StudyInstanceUID"):
        db.dcm2patient(make_dataset(PatientID=None, StudyInstanceUID=None))


def test_multi_valued_text_columns_keep_every_value() -> None:
    ds = make_dataset(
        AccessionNumber=["ACC1", "ACC2"],
        Manufacturer=["ACME", "", "Zeta"],
        StudyDate=["20240115", "20240116"],
    )
    record = dcm2records(ds)
    assert record.study["accession_number"] == "ACC1\\ACC2"
    assert record.image["manufacturer"] == "ACME\\Zeta"
    assert record.study["study_date"] == dt.date(2024, 1, 15)  # a date column holds one value
    answer = make_dataset(AccessionNumber=["A1", "A2"])
    assert study_finding_row(answer)["accession_number"] == "A1\\A2"


def test_multi_valued_uid_is_not_a_valid_uid() -> None:
    ds = make_dataset()
    ds.SOPInstanceUID = ["1.2.3", "1.2.4"]
    with pytest.raises(InvalidTagError, match="SOPInstanceUID"):
        dcm2records(ds)


def test_a_dicomdir_is_recognised_by_content_whatever_its_name(tmp_path: Path) -> None:
    renamed = tmp_path / "index.dcm"
    shutil.copyfile(TEST_FILES / "dicomdirtests" / "DICOMDIR", renamed)
    with pytest.raises(NotAnInstanceError, match="DICOMDIR") as info:
        dcm2records(read_header(renamed), filepath=renamed)
    assert info.value.kind == "DICOMDIR"
    assert str(renamed) in str(info.value)


@pytest.mark.parametrize("bad_uid", ["1.2.3/../4", "1.2.abc", "9" * 65])
def test_invalid_uid_is_rejected_with_its_tag(bad_uid: str) -> None:
    ds = make_dataset()
    ds.SOPInstanceUID = bad_uid
    with pytest.raises(InvalidTagError, match=r"\(0008,0018\) SOPInstanceUID"):
        dcm2records(ds)


def test_malformed_optional_values_become_null() -> None:
    ds = make_dataset(
        StudyDate="20241340",
        PatientBirthDate="notadate",
        PatientAge="ABCY",
        AcquisitionTime="99",
        Manufacturer="",
    )
    record = dcm2records(ds)
    assert record.study["study_date"] is None
    assert record.patient["patient_birth_date"] is None
    assert record.study["patient_age"] == -1
    assert record.image["acquisition_time"] is None
    assert record.image["manufacturer"] is None


def test_absent_optional_values_become_null() -> None:
    ds = make_dataset(
        PatientName=None, StudyDate=None, PatientAge=None, AcquisitionTime=None, Modality=None
    )
    record = dcm2records(ds)
    assert record.patient["patient_name"] is None
    assert record.study["study_date"] is None
    assert record.study["patient_age"] == -1
    assert record.series["modality"] is None


@pytest.mark.parametrize(
    ("filename", "expected_name"),
    [
        ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
        ("chrX1.dcm", "Wang^XiaoDong=王^小東"),
        ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동"),
        ("chrRuss.dcm", "Люкceмбypг"),  # noqa: RUF001 - the file mixes scripts
        ("chrGerm.dcm", "Äneas^Rüdiger"),
    ],
)
def test_patient_name_is_decoded_with_the_specific_character_set(
    filename: str, expected_name: str
) -> None:
    ds = dcmread(CHARSET_FILES / filename)
    assert db.dcm2patient(ds).patient_name == expected_name


def test_header_json_has_no_pixel_data_and_no_bulk_data() -> None:
    ds = make_dataset()
    ds.add_new(0x00291010, "OB", bytes(4096))  # a private bulk blob
    header = header_json(ds)
    assert "7FE00010" not in header
    assert header["00291010"] == {"vr": "OB"}
    assert header["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Test^Patient"}]}
    json.dumps(header)  # serialisable as is


def test_header_json_keeps_small_binary_values_and_sequences() -> None:
    ds = make_dataset()
    item = Dataset()
    item.CodeValue = "T-D3000"
    item.add_new(0x00291011, "OB", bytes(4096))
    ds.AnatomicRegionSequence = [item]
    ds.add_new(0x00291012, "OB", b"\x01\x02")
    header = header_json(ds)
    seq_item = header["00082218"]["Value"][0]
    assert seq_item["00080100"]["Value"] == ["T-D3000"]
    assert seq_item["00291011"] == {"vr": "OB"}
    assert header["00291012"]["InlineBinary"] == "AQI="


def test_seed_model_functions_return_unsaved_models() -> None:
    ds = make_dataset()
    patient, study, series, image = db.dcm2dbmodels(ds, institution="H")
    assert patient.id is None
    assert patient.patient_id == "PID0001"
    assert study.study_uid == ds.StudyInstanceUID
    assert series.series_uid == ds.SeriesInstanceUID
    assert image.image_uid == ds.SOPInstanceUID
    assert image.filepath is None
    assert db.dcm2study(ds).patient_age == 54.0
    assert db.dcm2series(ds).modality == "CT"
    assert db.dcm2image(ds, filepath="/f.dcm").filepath == "/f.dcm"


def test_dcm2dbmodels_reads_a_path_and_records_it(tmp_path: Path) -> None:
    path = write_dataset(make_dataset(), tmp_path / "a.dcm")
    _, _, _, image = db.dcm2dbmodels(str(path))
    assert image.filepath == str(path)
    assert "7FE00010" not in (image.meta or {})


def test_dcm2study_finding_reads_cfind_answer() -> None:
    answer = Dataset()
    answer.StudyInstanceUID = "1.2.3.4"
    answer.PatientID = "P1"
    answer.PatientName = "Doe^John"
    answer.StudyDate = "20240301"
    answer.AccessionNumber = "A1"
    answer.NumberOfStudyRelatedInstances = "42"
    found = db.dcm2study_finding(answer)
    assert (found.study_uid, found.patient_id, found.patient_name) == ("1.2.3.4", "P1", "Doe^John")
    assert found.study_date == dt.date(2024, 3, 1)
    assert found.expected_instances == 42
    assert found.retrieved_on is None


def test_read_header_explains_non_dicom_and_truncated_files(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image")
    with pytest.raises(InvalidDicomError, match="not a DICOM file"):
        read_header(text_file)
    with pytest.raises(InvalidDicomError, match="unreadable"):
        read_header(tmp_path / "missing.dcm")
    full = write_dataset(make_dataset(), tmp_path / "full.dcm").read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(full[:200])
    with pytest.raises(InvalidDicomError, match=str(truncated)):
        read_header(truncated)


def test_read_header_reads_pydicom_test_files_without_pixels() -> None:
    ds = read_header(TEST_FILES / "CT_small.dcm")
    assert "PixelData" not in ds
    assert dcm2records(ds).image["modality"] == "CT"
