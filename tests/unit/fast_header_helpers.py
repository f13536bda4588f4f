"""Shared by the header JSON tests: Part 10 bytes, and the three readings of them.

- :func:`fast_json`: the one-pass reader (None when it hands the file to pydicom);
- :func:`today_json`: pydicom with pacsflow's checks and encoder, the ingest's
  fallback (None when it refuses the file);
- :func:`pydicom_json`: pydicom's own ``to_json_dict``, with pacsflow's
  documented differences applied (None when pydicom cannot encode it).
"""

from __future__ import annotations

import io
import math
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

from pacsflow.dicom.fast_header import NeedsPydicomError, parse_header
from pacsflow.dicom.header_json import BULK_THRESHOLD, PIXEL_DATA_TAGS, dataset_to_json
from pacsflow.dicom.reading import _read_file
from pacsflow.errors import InvalidDicomError


def part10_bytes(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    """``ds`` as a DICOM Part 10 file (preamble, meta header) in ``transfer_syntax``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", CTImageStorage)
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", generate_uid())
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def fast_json(data: bytes) -> dict[str, Any] | None:
    """The one-pass reader's header JSON of a whole file; None when it needs pydicom."""
    try:
        return parse_header(data).header
    except NeedsPydicomError:
        return None


def today_json(data: bytes) -> dict[str, Any] | None:
    """pacsflow's pydicom route (read_header's checks, then dataset_to_json); None if refused."""
    try:
        ds = _read_file(io.BytesIO(data), len(data), "mem.dcm", find_rest=False)[0]
    except InvalidDicomError:
        return None
    return dataset_to_json(ds)


def pydicom_json(data: bytes) -> dict[str, Any] | None:
    """pydicom's ``to_json_dict`` of the header, normalised; None when pydicom raises."""
    try:
        ds = dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        return normalised(ds.to_json_dict(BULK_THRESHOLD, None))
    except Exception:
        return None


def normalised(encoded: dict[str, Any]) -> dict[str, Any]:
    """pydicom's JSON with pacsflow's documented differences: no pixel data, no bulk
    values (over 1,024 base64 characters), NaN and infinity as None."""
    out: dict[str, Any] = {}
    for key, element in encoded.items():
        if int(key, 16) in PIXEL_DATA_TAGS:
            continue
        element = dict(element)
        element.pop("BulkDataURI", None)
        if len(element.get("InlineBinary", "")) > BULK_THRESHOLD:
            del element["InlineBinary"]
        if element.get("vr") == "SQ":
            element["Value"] = [normalised(item) for item in element.get("Value", [])]
        elif "Value" in element:
            element["Value"] = [
                None if isinstance(v, float) and not math.isfinite(v) else v
                for v in element["Value"]
            ]
        out[key] = element
    return out
