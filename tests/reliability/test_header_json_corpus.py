"""The stored header JSON of real files nobody on the project wrote equals pydicom's.

The corpus is that of :mod:`tests.reliability.test_real_files` (pydicom's
files, pydicom-data, pynetdicom's files). For each file: the one-pass reader
answers only where pydicom's route (with pacsflow's checks) reads the file,
and then gives the same JSON; and that JSON equals pydicom's own
``to_json_dict`` with pacsflow's documented differences (no pixel or bulk
data, NaN as null).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pacsflow.dicom.fast_header import NeedsPydicomError, parse_header
from tests.reliability.test_real_files import SOURCES
from tests.unit.fast_header_helpers import pydicom_json, today_json

# Why the one-pass reader hands a file of this corpus to pydicom (the start of its reason).
FALLBACK_REASONS = {
    "transfer syntax 1.2.840.10008.1.2.2": "big endian (retired)",
    "no DICM": "no preamble and DICM prefix",
    "character set with code extensions": "ISO 2022 character sets",
    "tags out of order": "winter.dcm: damaged, its tags out of order",
    "the dataset does not use": "SC_rgb_jpeg.dcm: explicit syntax, implicit dataset",
    "an item runs past the end": "DICOMDIR-nooffset: an item cut short",
    "a sequence runs past the end": "rtplan_truncated.dcm: cut short",
    "no transfer syntax": "meta_missing_tsyntax.dcm",
    "no data elements": "a file meta group alone",
    "the file meta information is cut off": "a file shorter than its meta group",
    "the pixel data run past the end": "pixel data cut short",
}
# pydicom's to_json_dict raises on these (a VR it cannot encode); the stored JSON is pacsflow's.
PYDICOM_CANNOT_ENCODE = {"badVR.dcm"}


def _corpus() -> list[Path]:
    return sorted(
        p
        for root in SOURCES.values()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"}
    )


def test_stored_json_of_every_real_file_equals_pydicom_s() -> None:
    reasons: Counter[str] = Counter()
    fast = 0
    for path in _corpus():
        data = path.read_bytes()
        today = today_json(data)
        try:
            parsed = parse_header(data).header
        except NeedsPydicomError as exc:
            parsed = None
            reason = next((r for r in FALLBACK_REASONS if str(exc).startswith(r)), str(exc))
            reasons[reason] += 1
        if today is None:  # refused as before: the fast reader must not answer either
            assert parsed is None, path
            continue
        if parsed is not None:
            fast += 1
            assert parsed == today, path
        reference = pydicom_json(data)
        if path.name in PYDICOM_CANNOT_ENCODE:
            assert reference is None, path
        else:
            assert today == reference, path
    assert set(reasons) <= set(FALLBACK_REASONS), reasons
    assert fast >= 200, "most of the corpus is read without pydicom"
