"""A corpus of malformed and hostile DICOM files, each with the outcome ingest must give.

Every file is built from a valid synthetic header, then damaged in one way:
truncation, lying lengths, deep nesting, bad UIDs, bad bytes in names,
unknown character sets, impossible dates and ages. ``build_corpus`` writes
them and returns, per file name, whether ingest must store it ("stored") or
record it as failed with a reason containing the given words.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from pacsflow.demo.synthetic import dataset_bytes, make_dataset

STORED = "stored"

# Bytes of elements added at the end of a valid file (explicit VR little endian).
_ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
_ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _sequence_start(group: int, element: int) -> bytes:
    return struct.pack("<HH2sHI", group, element, b"SQ", 0, 0xFFFFFFFF)


def _nested(depth: int) -> bytes:
    """A ContentSequence nested ``depth`` levels deep, undefined lengths throughout."""
    opening = (_sequence_start(0x0040, 0xA730) + _ITEM) * depth
    closing = (_ITEM_END + _SEQ_END) * depth
    return opening + closing


def _bytes_of(ds: Dataset) -> bytes:
    with config.disable_value_validation():  # the point is to write invalid values
        return dataset_bytes(ds)


def _header(**overrides: object) -> Dataset:
    ds = make_dataset(**overrides)
    del ds.PixelData  # damaged elements are appended after the last one
    return ds


def _with_raw(keyword_tag: int, vr: str, raw: bytes, **overrides: object) -> Dataset:
    ds = _header(**overrides)
    ds.add(DataElement(keyword_tag, vr, raw))
    return ds


def build_corpus(root: Path, seed: int = 6) -> dict[str, tuple[str, str]]:
    """Write the corpus under ``root``; return name -> (expected outcome, words of the reason)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    files: dict[str, tuple[bytes, tuple[str, str]]] = {}
    valid = _bytes_of(_header())

    def failed(*words: str) -> tuple[str, str]:
        return ("failed", " ".join(words))

    files["empty.dcm"] = (b"", failed("not a DICOM file"))
    for i in range(3):
        noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 4000)))
        files[f"random-dicm-{i}.dcm"] = (bytes(128) + b"DICM" + noise, failed())
    files["random-no-prefix.dcm"] = (
        bytes(rng.getrandbits(8) for _ in range(2048)),
        failed("not a DICOM file"),
    )
    for offset in sorted(
        {133, 140, 200, 300, 400, len(valid) // 2, len(valid) - 7, len(valid) - 1}
    ):
        files[f"truncated-at-{offset}.dcm"] = (valid[:offset], failed())

    # A length that runs past the element into its neighbour, an odd length,
    # and a declared length far beyond the end of the file.
    name_at = valid.index(b"\x10\x00\x10\x00PN")
    lying = bytearray(valid)
    struct.pack_into("<H", lying, name_at + 6, 0x0101)
    files["wrong-length-patient-name.dcm"] = (bytes(lying), failed())
    huge = valid + struct.pack("<HH2sHI", 0x0040, 0xA160, b"UT", 0, 0x7FFFFFF0) + b"abc"
    files["huge-declared-length.dcm"] = (huge, failed())
    files["deeply-nested-sequences.dcm"] = (
        _bytes_of(_header()) + _nested(5000),
        failed(),
    )
    files["nested-sequences-depth-20.dcm"] = (_bytes_of(_header()) + _nested(20), (STORED, ""))

    for name, uid in {
        "uid-letters": "1.2.abc.3",
        "uid-slash": "1.2/3.4",
        "uid-dotdot": "../../etc/passwd",
        "uid-too-long": "1." + "2" * 70,
    }.items():
        files[f"{name}-sop.dcm"] = (
            _bytes_of(_header(SOPInstanceUID=uid)),
            failed("SOPInstanceUID"),
        )
    files["uid-slash-study.dcm"] = (
        _bytes_of(_header(StudyInstanceUID="1.2.3/../4")),
        failed("StudyInstanceUID"),
    )
    # PatientID is Type 2: stored under the stand-in patient of its study.
    files["missing-patient-id.dcm"] = (_bytes_of(_header(PatientID=None)), (STORED, ""))
    files["missing-study-uid.dcm"] = (
        _bytes_of(_header(StudyInstanceUID=None)),
        failed("StudyInstanceUID"),
    )

    files["non-utf8-name-declared-utf8.dcm"] = (
        _bytes_of(
            _with_raw(0x00100010, "PN", b"Caf\xe9^\xff\xfe", SpecificCharacterSet="ISO_IR 192")
        ),
        (STORED, ""),
    )
    files["unknown-character-set.dcm"] = (
        _bytes_of(
            _with_raw(0x00100010, "PN", b"M\xfcller^Hans", SpecificCharacterSet="ISO_IR 999")
        ),
        (STORED, ""),
    )
    files["bad-dates.dcm"] = (
        _bytes_of(_header(StudyDate="20241340", PatientBirthDate="19991332")),
        (STORED, ""),
    )
    files["bad-age.dcm"] = (_bytes_of(_header(PatientAge="ABCY")), (STORED, ""))
    files["bad-time.dcm"] = (_bytes_of(_header(AcquisitionTime="256199")), (STORED, ""))

    expected: dict[str, tuple[str, str]] = {}
    for name, (data, outcome) in files.items():
        (root / name).write_bytes(data)
        expected[name] = outcome
    return expected
