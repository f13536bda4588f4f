"""The one-pass header reader: the same JSON as pydicom's route on edge files, and a
refusal (NeedsPydicomError) for every file it does not handle."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from pacsflow.demo.synthetic import make_dataset, make_realistic_ct
from pacsflow.dicom.fast_header import NeedsMoreDataError, NeedsPydicomError, parse_header
from tests.unit.fast_header_helpers import fast_json, part10_bytes, pydicom_json, today_json

EXPLICIT, IMPLICIT = ExplicitVRLittleEndian, ImplicitVRLittleEndian


def _with_raw(elements: list[tuple[int, str, bytes]], **overrides: Any) -> Dataset:
    """make_dataset() with elements written exactly as given (odd values kept)."""
    ds = make_dataset(**overrides)
    for tag, vr, value in elements:
        value += b" " if len(value) % 2 else b""
        ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    return ds


def _sequences() -> Dataset:
    ds = make_dataset(SpecificCharacterSet="ISO_IR 192")
    inner = Dataset()
    inner.CodeValue, inner.CodeMeaning, inner.CodingSchemeDesignator = "123", "Tête", "DCM"
    item = Dataset()
    item.ConceptNameCodeSequence = Sequence([inner])
    item.PatientName = "Éva"
    ds.ContentSequence = Sequence([item, Dataset()])
    ds.ReferencedImageSequence = Sequence([])
    ds.PixelRepresentation = 1
    ds.SmallestImagePixelValue = -2000  # US or SS: SS by PixelRepresentation
    return ds


def _private() -> Dataset:
    ds = make_dataset()
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x0C, "SS", 5)
    block.add_new(0x10, "LO", "hello")
    unknown = ds.private_block(0x0029, "UNKNOWN CREATOR", create=True)
    unknown.add_new(0x01, "LO", "opaque")
    unknown.add_new(0x02, "OB", bytes(range(50)))
    unknown.add_new(0x03, "OB", bytes(2000))  # over the inline limit: VR only
    ds.add_new(0x00091001, "LO", "no creator")
    return ds


def _un_at_float() -> Dataset:
    ds = make_dataset()
    ds.add_new(0x00081030, "UN", b"STUDY DESC")  # LO written as UN
    ds.add_new(0x00181150, "UN", b"15")  # IS written as UN
    ds.add_new(0x00209165, "AT", [0x00100010, 0x00200013])
    ds.add_new(0x00186011, "SQ", Sequence([]))
    ds.add_new(0x00660016, "OF", bytes(16))
    ds.add_new(0x00189327, "FD", [1.5, math.nan, 2.0])
    return ds


EDGE_CASES: dict[str, Callable[[], Dataset]] = {
    "decimal strings": lambda: make_dataset(
        SliceThickness="1.0E+2",
        KVP=" +120 ",
        InstanceNumber=" 0012",
        SeriesNumber="1.0",
        ImagePositionPatient=["-0", "1e-3", "  5.50"],
    ),
    "person name groups": lambda: make_dataset(
        PatientName="Yamada^Tarou=Yamada^T=", ReferringPhysicianName="A^B==C"
    ),
    "multi-valued person name": lambda: make_dataset(ReferringPhysicianName=["Doe^J", "", "R="]),
    "empty values": lambda: make_dataset(StudyDescription="", PatientName="", ImageType=["A", ""]),
    "utf-8": lambda: make_dataset(
        SpecificCharacterSet="ISO_IR 192", PatientName="Müller^J=山田^太郎", InstitutionName="Hôp"
    ),
    "cyrillic": lambda: make_dataset(SpecificCharacterSet="ISO_IR 144", PatientName="Люкс"),
    "no character set": lambda: make_dataset(SpecificCharacterSet=None, InstitutionName="Café"),
    "NaN and infinity": lambda: _with_raw([(0x00180050, "DS", b"NaN"), (0x00180060, "DS", b"inf")]),
    "not numbers": lambda: _with_raw(
        [(0x00200013, "IS", b"abc"), (0x00200011, "IS", b"1.5"), (0x00280030, "DS", b"1\\\\2")]
    ),
    "odd strings": lambda: _with_raw(
        [
            (0x00080050, "SH", b" lead\x00"),
            (0x00080080, "LO", b"A\\B \x00"),
            (0x00080090, "PN", b"=="),
            (0x00080060, "CS", b" CT "),
            (0x00080018, "UI", b" 1.2.3\t"),
        ]
    ),
    "sequences": _sequences,
    "private blocks": _private,
    "UN, AT, floats": _un_at_float,
    "realistic CT": make_realistic_ct,
}
RAW_CASES = {"NaN and infinity", "not numbers", "odd strings"}  # raw explicit VR elements
SYNTAXES = (EXPLICIT, IMPLICIT, DeflatedExplicitVRLittleEndian)


@pytest.mark.parametrize(
    ("case", "syntax"),
    [
        (case, syntax)
        for case in sorted(EDGE_CASES)
        for syntax in SYNTAXES
        if not (case in RAW_CASES and syntax == IMPLICIT)
    ],
)
def test_edge_files_read_as_pydicom_s_route_reads_them(case: str, syntax: str) -> None:
    data = part10_bytes(EDGE_CASES[case](), syntax)
    fast = fast_json(data)
    assert fast is not None, "read without pydicom"
    assert fast == today_json(data)
    reference = pydicom_json(data)
    if reference is not None:  # pydicom's to_json_dict raises on the tolerant readings
        assert fast == reference


def test_an_encapsulated_file_is_read_as_explicit_vr() -> None:
    ds = make_dataset()
    ds.PixelData = encapsulate([bytes(10)])
    data = part10_bytes(ds, JPEGBaseline8Bit)
    assert parse_header(data).transfer_syntax_uid == JPEGBaseline8Bit
    assert fast_json(data) == today_json(data)


def test_file_meta_facts_are_given() -> None:
    ds = make_dataset()
    parsed = parse_header(part10_bytes(ds))
    assert parsed.media_storage_sop_class_uid == ds.SOPClassUID
    assert parsed.transfer_syntax_uid == EXPLICIT
    assert "00020010" not in parsed.header  # the file meta group is not part of the header


def _pixel_file(length: int, *, declared: int | None = None) -> bytes:
    ds = make_dataset(Rows=2, Columns=2, BitsAllocated=8)
    ds.PixelData = bytes(length)
    data = part10_bytes(ds)
    if declared is not None:  # the OB pixel data element's 4-byte length is the last field
        at = len(data) - length - 4
        data = data[:at] + struct.pack("<L", declared) + data[at + 4 :]
    return data


def test_pixel_data_is_left_out_and_its_length_checked_against_the_file() -> None:
    data = _pixel_file(4)
    assert "7FE00010" not in parse_header(data).header
    with pytest.raises(NeedsPydicomError, match="pixel data"):
        parse_header(_pixel_file(4, declared=400))
    assert today_json(_pixel_file(4, declared=400)) is None


def test_a_file_read_in_part_asks_for_more_until_the_pixel_data() -> None:
    data = part10_bytes(make_realistic_ct())
    with pytest.raises(NeedsMoreDataError):
        parse_header(data[:1000], file_size=len(data))
    assert parse_header(data[: len(data) - 10], file_size=len(data)).header == fast_json(data)


def _swap(data: bytes, first: bytes, second: bytes) -> bytes:
    """The file with two elements' bytes exchanged (so their tags are out of order)."""
    a, b = data.index(first), data.index(second)
    assert a < b
    return data[:a] + second + data[a + len(first) : b] + first + data[b + len(second) :]


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def test_tags_out_of_order_are_pydicom_s() -> None:
    ds = make_dataset(Modality="CT", Manufacturer="ACME Medical")
    data = part10_bytes(ds)
    swapped = _swap(
        data, _element(0x00080060, b"CS", b"CT"), _element(0x00080070, b"LO", b"ACME Medical")
    )
    with pytest.raises(NeedsPydicomError, match="out of order"):
        parse_header(swapped)


@pytest.mark.parametrize("cut", [-1, -3, -7])
def test_a_file_cut_short_is_pydicom_s_and_refused_there(cut: int) -> None:
    data = part10_bytes(make_dataset(StudyDescription=None, ImageComments="x" * 21))
    with pytest.raises(NeedsPydicomError):
        parse_header(data[:cut])
    assert today_json(data[:cut]) is None


def test_files_it_does_not_handle_are_pydicom_s() -> None:
    big_endian = make_dataset()
    data = part10_bytes(big_endian, ExplicitVRBigEndian)
    iso_2022 = part10_bytes(make_dataset(SpecificCharacterSet=["", "ISO 2022 IR 87"]))
    no_prefix = part10_bytes(make_dataset())[128:]
    for refused in (data, iso_2022, no_prefix, b"", b"\x00" * 200):
        with pytest.raises(NeedsPydicomError):
            parse_header(refused)
    assert today_json(data) is not None


def test_a_dataset_not_in_its_transfer_syntax_s_encoding_is_pydicom_s() -> None:
    ds = make_dataset()
    explicit, implicit = part10_bytes(ds, EXPLICIT), part10_bytes(ds, IMPLICIT)
    first = b"\x08\x00\x05\x00"  # (0008,0005), the first element of the dataset
    implicit_body = explicit[: explicit.index(first)] + implicit[implicit.index(first) :]
    with pytest.raises(NeedsPydicomError, match="encoding"):
        parse_header(implicit_body)
    assert today_json(implicit_body) is not None


def test_us_or_ss_without_pixel_representation_is_pydicom_s() -> None:
    ds = make_dataset(PixelRepresentation=0)
    ds.SmallestImagePixelValue = 0
    representation = b"\x28\x00\x03\x01" + struct.pack("<LH", 2, 0)
    data = part10_bytes(ds, IMPLICIT).replace(representation, b"")
    with pytest.raises(NeedsPydicomError, match="PixelRepresentation"):
        parse_header(data)


def _with_item_value(sequence: str) -> bytes:
    ds = make_dataset(PixelRepresentation=1)
    item = Dataset()
    item.SmallestImagePixelValue = -5
    setattr(ds, sequence, Sequence([item]))
    return part10_bytes(ds, IMPLICIT)


def test_us_or_ss_in_an_item_follows_the_pixel_representation_before_it() -> None:
    data = _with_item_value("RequestAttributesSequence")  # (0040,0275): after (0028,0103)
    header = parse_header(data).header
    assert header["00400275"]["Value"][0]["00280106"] == {"vr": "SS", "Value": [-5]}
    assert header == today_json(data)


def test_us_or_ss_in_an_item_before_the_pixel_representation_is_pydicom_s() -> None:
    data = _with_item_value("ReferencedImageSequence")  # (0008,1140): before (0028,0103)
    with pytest.raises(NeedsPydicomError, match="before PixelRepresentation"):
        parse_header(data)
    assert today_json(data) is not None


def test_an_explicit_un_known_as_a_sequence_is_read_as_an_implicit_sequence() -> None:
    item = b"\x08\x00\x00\x01" + struct.pack("<L", 2) + b"1 "  # (0008,0100) "1", implicit
    body = b"\xfe\xff\x00\xe0" + struct.pack("<L", len(item)) + item
    un = b"\x40\x00\x43\xa0UN\x00\x00" + struct.pack("<L", len(body)) + body
    data = part10_bytes(make_dataset())
    pixels = data.rindex(b"\xe0\x7f\x10\x00")
    data = data[:pixels] + un + data[pixels:]  # (0040,A043) Concept Name Code Sequence as UN
    header = parse_header(data).header
    assert header["0040A043"]["Value"] == [{"00080100": {"vr": "SH", "Value": ["1"]}}]
    assert header == today_json(data)


def test_a_character_set_name_pydicom_would_correct_or_refuse_is_pydicom_s() -> None:
    data = part10_bytes(make_dataset(SpecificCharacterSet="ISO_IR 192"))
    data = data.replace(b"CS\x0a\x00ISO_IR 192", b"CS\x0a\x00\x00SO_IR 192")
    with pytest.raises(NeedsPydicomError, match="character set"):
        parse_header(data)
    assert today_json(data) is None  # pydicom's route refuses it (embedded NUL)


def test_an_ambiguous_vr_pydicom_leaves_ambiguous_is_not_resolved() -> None:
    data = part10_bytes(make_dataset(), IMPLICIT)
    pixels = data.rindex(b"\xe0\x7f\x10\x00")
    variable = b"\x00\x7f\x10\x00" + struct.pack("<L", 4) + bytes(4)  # (7F00,0010): OB or OW
    data = data[:pixels] + variable + data[pixels:]
    with pytest.raises(NeedsPydicomError, match="ambiguous"):
        parse_header(data)
    today = today_json(data)
    assert today is not None
    assert today["7F000010"]["vr"] == "OB or OW"


def test_a_character_set_of_another_vr_is_pydicom_s() -> None:
    data = part10_bytes(make_dataset(SpecificCharacterSet="ISO_IR 100"))
    data = data.replace(b"\x08\x00\x05\x00CS\x0a\x00", b"\x08\x00\x05\x00SS\x0a\x00")
    with pytest.raises(NeedsPydicomError, match="Specific Character Set"):
        parse_header(data)
    assert today_json(data) is None  # pydicom's route cannot read it


@pytest.mark.parametrize(
    ("written", "damaged"),
    [
        (b"\x02\x00\x10\x00UI", b"\x02\x00\x10\x00UL"),  # Transfer Syntax UID
        (b"\x02\x00\x02\x00UI", b"\x02\x00\x02\x00SH"),  # Media Storage SOP Class UID
    ],
)
def test_a_file_meta_element_of_another_vr_is_pydicom_s(written: bytes, damaged: bytes) -> None:
    data = part10_bytes(make_dataset()).replace(written, damaged)
    with pytest.raises(NeedsPydicomError, match="of VR"):
        parse_header(data)
