"""The fast DICOM JSON encoder gives pydicom's answer, element for element."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from pacsflow.demo.synthetic import make_dataset, make_realistic_ct, write_dataset
from pacsflow.dicom.header_json import PIXEL_DATA_TAGS, dataset_to_json

PYDICOM_DATA = Path(pydicom.data.__file__).parent
SAMPLE_FILES = sorted((PYDICOM_DATA / "test_files").rglob("*.dcm")) + sorted(
    (PYDICOM_DATA / "charset_files").glob("*.dcm")
)
# Where pacsflow reads more tolerantly than pydicom, on purpose (see the module docstring).
TOLERATED = {("badVR.dcm", "00280008")}  # IS "1A": kept as text, pydicom refuses it


def _reference(ds: Dataset) -> dict[str, Any]:
    """pydicom's encoding, element by element, with the same bulk and pixel rules."""
    encoded = {}
    for tag in ds.keys():  # noqa: SIM118 - iterating a Dataset yields elements, not tags
        if tag in PIXEL_DATA_TAGS:
            continue
        try:
            element = ds[tag].to_json_dict(lambda _e: "bulk", 1024)
        except Exception:  # noqa: S112 - pydicom cannot encode it: nothing to compare
            continue
        element.pop("BulkDataURI", None)
        if element["vr"] == "SQ":
            element["Value"] = [_reference(item) for item in ds[tag].value]
        encoded[f"{tag:08X}"] = element
    return encoded


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_fast_encoder_matches_pydicom_on_its_test_files(path: Path) -> None:
    try:
        fast = dataset_to_json(dcmread(path, stop_before_pixels=True, force=True))
        reference = _reference(dcmread(path, stop_before_pixels=True, force=True))
    except Exception as exc:
        pytest.skip(f"pydicom cannot read {path.name} at all ({type(exc).__name__})")
    for key in set(fast) | set(reference):
        if (path.name, key) in TOLERATED:
            continue
        assert fast.get(key) == reference.get(key), key
    json.dumps(fast, allow_nan=False)


def test_fast_encoder_matches_pydicom_on_synthetic_files(tmp_path: Path) -> None:
    for ds in (make_dataset(), make_realistic_ct()):
        path = write_dataset(ds, tmp_path / "x.dcm")
        fast = dataset_to_json(dcmread(path, stop_before_pixels=True))
        assert fast == _reference(dcmread(path, stop_before_pixels=True))


def _raw(elements: dict[int, tuple[str, bytes]]) -> Dataset:
    """A dataset of raw (unparsed) elements, as dcmread leaves them."""
    return Dataset(
        {
            BaseTag(tag): RawDataElement(BaseTag(tag), vr, len(value), value, 0, False, True)
            for tag, (vr, value) in elements.items()
        }
    )


def test_numbers_that_are_not_numbers_are_kept_as_text() -> None:
    encoded = dataset_to_json(
        _raw(
            {
                0x00200013: ("IS", b"12"),
                0x00180050: ("DS", b"1.25"),
                0x00281050: ("DS", b"40\\abc "),
                0x00200012: ("IS", b"1.5 "),
            }
        )
    )
    assert encoded["00200013"]["Value"] == [12]
    assert encoded["00180050"]["Value"] == [1.25]
    assert encoded["00281050"]["Value"] == [40.0, "abc"]
    assert encoded["00200012"]["Value"] == ["1.5"]


def test_non_finite_floats_become_null() -> None:
    nan = struct.pack("<d", math.nan)
    encoded = dataset_to_json(_raw({0x00189327: ("FD", nan + struct.pack("<d", 2.5))}))
    assert encoded["00189327"]["Value"] == [None, 2.5]
    json.dumps(encoded, allow_nan=False)


def test_binary_values_inline_when_small_and_left_out_when_bulk() -> None:
    encoded = dataset_to_json(
        _raw({0x00291010: ("OB", b"\x01\x02"), 0x00291011: ("OB", bytes(2048))})
    )
    assert encoded["00291010"] == {"vr": "OB", "InlineBinary": "AQI="}
    assert encoded["00291011"] == {"vr": "OB"}


def test_latin1_and_utf8_text_decode_like_pydicom() -> None:
    for charset, name in ((b"ISO_IR 100", "Müller^Jürgen"), (b"ISO_IR 192", "Ωμέγα^Ελένη")):
        codec = "latin-1" if charset == b"ISO_IR 100" else "utf-8"
        encoded = dataset_to_json(
            _raw({0x00080005: ("CS", charset), 0x00100010: ("PN", name.encode(codec))})
        )
        assert encoded["00100010"]["Value"] == [{"Alphabetic": name}]
