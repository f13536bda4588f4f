"""read_header_json: the one-pass reader when it can, pydicom's route otherwise, with the
same JSON, the same refusals and the same rows."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from pacsflow.database.engine import dumps_json, make_engine
from pacsflow.demo.synthetic import make_dataset, make_realistic_ct
from pacsflow.dicom import reading
from pacsflow.dicom.fast_header import ParsedHeader, parse_header
from pacsflow.dicom.header_json import dataset_to_json
from pacsflow.dicom.reading import FIRST_READ, read_header, read_header_json
from pacsflow.dicom.records import dcm2records, header2records
from pacsflow.errors import InvalidDicomError, NotAnInstanceError
from pacsflow.ingest.batch import ingest_batch
from tests.unit.fast_header_helpers import part10_bytes


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_common_file_is_read_fast_and_as_pydicom_s_route_reads_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "ct.dcm", part10_bytes(make_realistic_ct()))
    read = read_header_json(path)
    assert read.fast
    assert not read.is_directory
    assert read.header == dataset_to_json(read_header(path))


def test_a_big_endian_file_is_read_by_pydicom(tmp_path: Path) -> None:
    path = _write(tmp_path / "be.dcm", part10_bytes(make_dataset(), ExplicitVRBigEndian))
    read = read_header_json(path)
    assert not read.fast
    assert read.header == dataset_to_json(read_header(path))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the bytes each parse of read_header_json was given, in order."""
    lengths: list[int] = []

    def parse(data: bytes, *, file_size: int | None = None) -> ParsedHeader:
        lengths.append(len(data))
        return parse_header(data, file_size=file_size)

    monkeypatch.setattr(reading, "parse_header", parse)
    return lengths


def test_a_header_longer_than_the_first_read_is_read_on(tmp_path: Path, reads: list[int]) -> None:
    ds = make_dataset(TextValue="x" * (3 * FIRST_READ))  # UT: a 4-byte length
    path = _write(tmp_path / "long.dcm", part10_bytes(ds))
    read = read_header_json(path)
    assert read.fast
    assert read.header["0040A160"]["Value"] == ["x" * (3 * FIRST_READ)]
    size = path.stat().st_size
    # The first read ends inside TextValue, whose length says how far to read on:
    # to its end and a first read beyond (here: the whole file), so two parses.
    assert reads == [FIRST_READ, size]


def test_a_long_sequence_is_read_to_its_end_and_not_the_pixel_data(
    tmp_path: Path, reads: list[int]
) -> None:
    item = Dataset()
    item.TextValue = "y" * 1000
    ds = make_dataset()
    ds.ContentSequence = [copy.deepcopy(item) for _ in range(200)]  # ~200 kB, defined length
    ds.PixelData = bytes(8 * FIRST_READ)
    path = _write(tmp_path / "sequence.dcm", part10_bytes(ds))
    read = read_header_json(path)
    assert read.fast
    assert len(read.header["0040A730"]["Value"]) == 200
    size = path.stat().st_size
    assert len(reads) == 2  # the sequence's length says how far to read on
    assert reads[1] < size - 4 * FIRST_READ  # and the pixel data is not read


def test_bytes_in_memory_are_read_without_the_file(tmp_path: Path) -> None:
    data = part10_bytes(make_dataset())
    assert read_header_json(tmp_path / "absent.dcm", data).fast
    big_endian = part10_bytes(make_dataset(), ExplicitVRBigEndian)
    read = read_header_json(tmp_path / "absent.dcm", big_endian)
    assert not read.fast
    assert read.header == dataset_to_json(read_header(_write(tmp_path / "be.dcm", big_endian)))


def _refusal(read: object, path: Path) -> str:
    with pytest.raises(InvalidDicomError) as info:
        read(path)  # type: ignore[operator]
    return str(info.value)


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.dcm"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: _write(tmp / "notes.txt", b"not DICOM at all\n" * 20),
        lambda tmp: _write(tmp / "empty.dcm", b""),
        lambda tmp: _write(tmp / "cut.dcm", part10_bytes(make_dataset())[:-5]),
        lambda tmp: _write(tmp / "meta-only.dcm", part10_bytes(make_dataset())[:300]),
        lambda tmp: tmp / "missing.dcm",
        _fifo,
    ],
    ids=["not-dicom", "empty", "pixel-data-cut", "header-cut", "missing", "fifo"],
)
def test_refusals_are_those_of_read_header(tmp_path: Path, make: object) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert _refusal(read_header_json, path) == _refusal(read_header, path)


def test_a_dicomdir_is_known_by_its_content() -> None:
    path = get_testdata_file("DICOMDIR")
    assert path is not None
    read = read_header_json(path)
    assert read.is_directory
    with pytest.raises(NotAnInstanceError):
        header2records(read.header, is_directory=read.is_directory, filepath=path)


def test_rows_from_the_header_json_are_those_of_dcm2records(tmp_path: Path) -> None:
    path = _write(tmp_path / "ct.dcm", part10_bytes(make_realistic_ct(PatientID=None)))
    read = read_header_json(path)
    fast = header2records(read.header, is_directory=False, institution="X", filepath=path)
    slow = dcm2records(read_header(path), institution="X", filepath=path)
    assert fast == slow
    assert fast.patient["patient_id_missing"]


def test_stored_json_text_is_compact_utf_8_with_null_for_nan() -> None:
    text = dumps_json({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller"}]}, "n": 1e999})
    assert text == '{"00100010":{"vr":"PN","Value":[{"Alphabetic":"Müller"}]},"n":null}'
    assert (
        dumps_json({"big": 2**70, "nul": "a\x00b"}) == '{"big":1180591620717411303424,"nul":"ab"}'
    )


def test_ingest_counts_the_headers_read_by_pydicom(
    tmp_path: Path, new_db_url: Callable[[str], str]
) -> None:
    paths = [
        str(_write(tmp_path / "le.dcm", part10_bytes(make_dataset()))),
        str(_write(tmp_path / "be.dcm", part10_bytes(make_dataset(), ExplicitVRBigEndian))),
        str(_write(tmp_path / "notes.txt", b"not DICOM\n" * 20)),
    ]
    engine = make_engine(new_db_url("sqlite"))
    try:
        result = ingest_batch(engine, paths, institution="X")
    finally:
        engine.dispose()
    assert result.images_added == 2
    assert result.failed == 1
    assert result.read_by_pydicom == 1  # the big-endian file (a refused one is a failure)


def test_sequences_nested_beyond_python_s_recursion_limit_are_refused_cleanly(
    tmp_path: Path,
) -> None:
    depth = 1500
    opening = b"\x40\x00\x30\xa7\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    closing = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    data = part10_bytes(make_dataset(PixelData=None), ImplicitVRLittleEndian)
    data += opening * depth + closing * depth  # (0040,A730) inside (0040,A730) ...
    path = _write(tmp_path / "deep.dcm", data)
    with pytest.raises(InvalidDicomError, match="malformed DICOM"):
        read_header_json(path)
