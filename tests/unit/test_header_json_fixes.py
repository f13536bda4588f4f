"""Defects of the header JSON encoder found by issue 26's research, each pinned by a test."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from pacsflow.dicom import header_json
from pacsflow.dicom.header_json import dataset_to_json

NAN = struct.pack("<d", math.nan)


def _raw(elements: dict[int, tuple[str | None, bytes]], *, implicit: bool = False) -> Dataset:
    """A dataset of raw elements as dcmread leaves them (VR None when implicit)."""
    return Dataset(
        {
            BaseTag(tag): RawDataElement(
                BaseTag(tag), None if implicit else vr, len(value), value, 0, implicit, True
            )
            for tag, (vr, value) in elements.items()
        }
    )


def _pydicom(ds: Dataset, tag: int) -> dict[str, Any]:
    encoded: dict[str, Any] = ds[tag].to_json_dict(None, 1024)
    return encoded


@pytest.fixture
def pydicom_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tags the encoder hands to pydicom's own conversion, one by one."""
    calls: list[int] = []
    original = header_json._encode_with_pydicom

    def spy(ds: Dataset, tag: BaseTag, codec: str | None, bulk_threshold: int) -> Any:
        calls.append(int(tag))
        return original(ds, tag, codec, bulk_threshold)

    monkeypatch.setattr(header_json, "_encode_with_pydicom", spy)
    return calls


@pytest.mark.parametrize(
    ("charset", "codec", "name"),
    [("ISO_IR 192", "utf-8", "Ωμέγα^Ελένη"), ("ISO_IR 144", "iso8859-5", "Иванов^Иван")],
)
def test_utf8_and_aliased_character_sets_are_encoded_without_pydicom(
    pydicom_calls: list[int], charset: str, codec: str, name: str
) -> None:
    ds = _raw(
        {
            0x00080005: ("CS", charset.encode()),
            0x00100010: ("PN", name.encode(codec)),
            0x00200012: ("IS", b"1A"),  # not a number: the raw path keeps it as text
        }
    )
    encoded = dataset_to_json(ds)
    assert encoded["00100010"]["Value"] == [{"Alphabetic": name}]
    assert encoded["00200012"] == {"vr": "IS", "Value": ["1A"]}
    assert pydicom_calls == []


def test_implicit_private_elements_read_by_pydicom_keep_nan_out_and_numbers_as_text() -> None:
    # Implicit VR private elements have no VR in the file: pydicom's route encodes them.
    ds = _raw(
        {
            0x00710010: ("LO", b"AGFA-AG_HPState "),
            0x00711024: ("FD", NAN),  # AGFA-AG_HPState (0071,xx24) is FD
            0x00270010: ("LO", b"APEX_PRIVATE"),
            0x00271011: ("DS", b"abc "),  # APEX_PRIVATE (0027,xx11) is DS
            0x00290010: ("LO", b"NOBODY KNOWS ME"),
            0x00291001: ("UN", b"\x01\x02"),
        },
        implicit=True,
    )
    encoded = dataset_to_json(ds)
    assert encoded["00710010"] == {"vr": "LO", "Value": ["AGFA-AG_HPState"]}
    assert encoded["00711024"] == {"vr": "FD", "Value": [None]}
    assert encoded["00271011"] == {"vr": "DS", "Value": ["abc"]}
    assert encoded["00291001"] == {"vr": "UN", "InlineBinary": "AQI="}
    json.dumps(encoded, allow_nan=False)


@pytest.mark.parametrize("implicit", [False, True])
def test_empty_items_of_a_decimal_string_are_null_on_both_routes(implicit: bool) -> None:
    ds = _raw(
        {
            0x00270010: ("LO", b"APEX_PRIVATE"),
            0x00271011: ("DS", b"1.5\\\\2"),  # private: pydicom's route when implicit
            0x00280030: ("DS", b"1\\ "),
            0x00200013: ("IS", b"\\7"),
        },
        implicit=implicit,
    )
    encoded = dataset_to_json(ds)
    assert encoded["00271011"] == {"vr": "DS", "Value": [1.5, None, 2.0]}
    assert encoded["00280030"] == {"vr": "DS", "Value": [1.0, None]}
    assert encoded["00200013"] == {"vr": "IS", "Value": [None, 7]}


def test_text_that_is_not_valid_utf_8_is_decoded_by_pydicom_with_replacement() -> None:
    ds = _raw({0x00080005: ("CS", b"ISO_IR 192"), 0x00100010: ("PN", b"M\xfcller^J")})
    expected = {"vr": "PN", "Value": [{"Alphabetic": "M\ufffdller^J"}]}
    assert dataset_to_json(ds)["00100010"] == expected


def test_non_finite_floats_become_null_on_pydicom_s_route_too() -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]  # code extensions: pydicom decodes
    ds.add_new(0x00189327, "FD", [math.nan, 2.5])
    ds.add_new(0x00189328, "FL", math.inf)
    encoded = dataset_to_json(ds)
    assert encoded["00189327"]["Value"] == [None, 2.5]
    assert encoded["00189328"]["Value"] == [None]
    json.dumps(encoded, allow_nan=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Yamada^Tarou=", [{"Alphabetic": "Yamada^Tarou"}]),
        (b"Yamada^Tarou=Yamada^T=", [{"Alphabetic": "Yamada^Tarou", "Ideographic": "Yamada^T"}]),
        (b"A^B==C", [{"Alphabetic": "A^B", "Ideographic": "", "Phonetic": "C"}]),
    ],
)
def test_trailing_empty_person_name_groups_are_dropped_like_pydicom(
    raw: bytes, expected: list[dict[str, str]]
) -> None:
    ds = _raw({0x00080005: ("CS", b"ISO_IR 100"), 0x00100010: ("PN", raw)})
    encoded = dataset_to_json(ds)
    assert encoded["00100010"]["Value"] == expected
    assert encoded["00100010"] == _pydicom(ds, 0x00100010)


@pytest.mark.parametrize(
    ("vr", "raw"),
    [
        ("DS", b"12\x00"),
        ("DS", b"\x00\x00"),
        ("IS", b" 7\x00"),
        ("DS", b"1.5\\2\x00"),
        ("DS", b"1.00000\x1e"),  # a control character str.strip() takes for whitespace
        ("IS", b"\t3\x0c"),
    ],
)
def test_decimal_strings_with_nuls_or_whitespace_read_like_pydicom(vr: str, raw: bytes) -> None:
    ds = _raw({0x00180050: (vr, raw)})
    assert dataset_to_json(ds)["00180050"] == _pydicom(ds, 0x00180050)


@pytest.mark.parametrize("raw", [b" 1.2.3\t", b"1.2.3\r\\ 1.2.4 ", b"1.2.3\x00"])
def test_uids_are_stripped_of_surrounding_whitespace_like_pydicom(raw: bytes) -> None:
    ds = _raw({0x00080018: ("UI", raw)})
    assert dataset_to_json(ds)["00080018"] == _pydicom(ds, 0x00080018)
