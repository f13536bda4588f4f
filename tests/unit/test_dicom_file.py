"""Reading headers: truncated, foreign and preamble-less files."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest

from pacsflow.dicom.reading import read_header
from pacsflow.errors import InvalidDicomError
from tests.factories import make_dataset, write_dataset

PYDICOM_DATA = Path(pydicom.data.__file__).parent
# Shipped broken on purpose, or (no_meta.dcm) a bare dataset that starts in group 0002.
KNOWN_BAD = {"MR_truncated.dcm", "rtplan_truncated.dcm", "no_meta.dcm"}


@pytest.fixture(scope="module")
def whole_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("whole") / "whole.dcm"
    return write_dataset(make_dataset(), path).read_bytes()


def test_whole_file_reads(tmp_path: Path, whole_file: bytes) -> None:
    path = tmp_path / "ok.dcm"
    path.write_bytes(whole_file)
    assert read_header(path).PatientID == "PID0001"


@pytest.mark.parametrize("keep", [0.3, 0.45, 0.6, 0.8, 0.9, 0.99])
def test_truncated_file_is_reported_not_half_read(
    tmp_path: Path, whole_file: bytes, keep: float
) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole_file[: int(len(whole_file) * keep)])
    with pytest.raises(InvalidDicomError, match=r"truncated|no data elements|malformed"):
        read_header(path)


def test_file_cut_in_the_pixel_data_says_how_much_is_missing(
    tmp_path: Path, whole_file: bytes
) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole_file[:-10])
    with pytest.raises(
        InvalidDicomError, match="pixel data declares 512 bytes, the file holds 502"
    ):
        read_header(path)


def test_random_bytes_after_a_dicm_prefix_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "noise.dcm"
    path.write_bytes(bytes(128) + b"DICM" + bytes(range(256)) * 4)
    with pytest.raises(InvalidDicomError):
        read_header(path)


def test_text_file_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "readme.txt"
    path.write_text("hello\n" * 100)
    with pytest.raises(InvalidDicomError, match="not a DICOM file"):
        read_header(path)


def test_empty_file_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(InvalidDicomError):
        read_header(path)


def test_dataset_without_preamble_is_accepted() -> None:
    ds = read_header(PYDICOM_DATA / "test_files" / "ExplVR_LitEndNoMeta.dcm")
    assert "SOPInstanceUID" in ds


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_every_shipped_pydicom_file_reads_except_the_broken_ones() -> None:
    files = sorted((PYDICOM_DATA / "test_files").glob("*.dcm"))
    files += sorted((PYDICOM_DATA / "charset_files").glob("*.dcm"))
    rejected = set()
    for path in files:
        try:
            read_header(path)
        except InvalidDicomError:
            rejected.add(path.name)
    assert rejected == KNOWN_BAD
