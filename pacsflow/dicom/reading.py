"""Reading DICOM file headers, with the checks pydicom leaves out.

pydicom stops silently at the end of a truncated file and returns whatever it
had read. :func:`read_header` notices truncation (in the header or in the
pixel data that follows it) and raises instead, so a damaged file is reported
rather than stored with half its metadata.

:func:`read_header_json` gives the header in the DICOM JSON model, the way the
ingest stores it: through the one-pass reader of
:mod:`pacsflow.dicom.fast_header` when it handles the file, else through
:func:`read_header` and :func:`~pacsflow.dicom.header_json.dataset_to_json`.
Both give the same JSON, and the same refusals.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
from dataclasses import dataclass
from os import PathLike
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from pacsflow.dicom.fast_header import (
    NeedsMoreDataError,
    NeedsPydicomError,
    ParsedHeader,
    parse_header,
)
from pacsflow.dicom.header_json import dataset_to_json
from pacsflow.dicom.pydicom_warnings import silence_pydicom_value_warnings
from pacsflow.errors import InvalidDicomError

__all__ = [
    "FIRST_READ",
    "MEDIA_STORAGE_DIRECTORY",
    "HeaderRead",
    "is_media_directory",
    "is_parsed_directory",
    "read_header",
    "read_header_and_pixel_offset",
    "read_header_json",
    "silence_pydicom_value_warnings",
]

FIRST_READ = 64 * 1024
"""Bytes read first by :func:`read_header_json`; it reads on while the header runs past
them (to the end of the element that ran past, or twice as much)."""
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
"""The SOP class of a DICOMDIR (PS3.4 Media Storage Directory Storage)."""
_DIRECTORY_RECORD_SEQUENCE = 0x00041220
_DIRECTORY_RECORD_KEY = f"{_DIRECTORY_RECORD_SEQUENCE:08X}"

_UNDEFINED_LENGTH = 0xFFFFFFFF
_GROUP_0008 = (b"\x08\x00", b"\x00\x08")  # little and big endian
_NOT_DICOM = "not a DICOM file (no DICM prefix and no valid group 0008 element)"
# Explicit VRs whose length field is 4 bytes after 2 reserved bytes (PS3.5 7.1.2).
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)


def read_header(path: str | PathLike[str]) -> Dataset:
    """Read a DICOM file's header (everything before the pixel data) and check it is whole.

    Raises:
        InvalidDicomError: the file is not DICOM, cannot be read, or is truncated.
    """
    return _read_checked(path, find_rest=False)[0]


@dataclass(frozen=True, slots=True)
class HeaderRead:
    """A file's header as :func:`read_header_json` read it."""

    #: The dataset in the DICOM JSON model, without pixel and bulk data.
    header: dict[str, Any]
    #: A DICOMDIR (by its SOP class or its directory records): no instance to store.
    is_directory: bool
    #: Read by the one-pass reader (False: by pydicom).
    fast: bool


def read_header_json(path: str | PathLike[str], data: bytes | None = None) -> HeaderRead:
    """A file's header in the DICOM JSON model, checked whole as :func:`read_header` does.

    Args:
        path: the file (named in errors; read unless ``data`` is given).
        data: the file's bytes, when they are already in memory.

    Raises:
        InvalidDicomError: the file is not DICOM, cannot be read, or is truncated.
    """
    parsed = None
    with contextlib.suppress(NeedsPydicomError, OSError):  # pydicom's path reads or refuses it
        parsed = _parse_file(path) if data is None else parse_header(data)
    if parsed is not None:
        return HeaderRead(parsed.header, is_parsed_directory(parsed), fast=True)
    if data is None:
        ds = read_header(path)
    else:
        ds = _read_file(io.BytesIO(data), len(data), path, find_rest=False)[0]
    return HeaderRead(dataset_to_json(ds), is_media_directory(ds), fast=False)


def _parse_file(path: str | PathLike[str]) -> ParsedHeader | None:
    """:func:`~pacsflow.dicom.fast_header.parse_header` on the file's first
    :data:`FIRST_READ` bytes, reading on while the header runs past them;
    None for anything but a regular file (pydicom's path says why).

    Raises:
        NeedsPydicomError: as ``parse_header``.
        OSError: the file cannot be read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    with open(path, "rb") as fp:
        size = os.fstat(fp.fileno()).st_size
        data = fp.read(FIRST_READ)
        while True:
            try:
                return parse_header(data, file_size=size)
            except NeedsMoreDataError as exc:
                # To the end of the element that ran past and a first read beyond it
                # (its header usually ends there), or twice as much when not known.
                wanted = max(exc.needed + FIRST_READ, 2 * len(data))
                more = fp.read(wanted - len(data))
                if not more:
                    raise
                data += more


def is_parsed_directory(parsed: ParsedHeader) -> bool:
    """:func:`is_media_directory` for a header read by the one-pass reader."""
    return (
        parsed.media_storage_sop_class_uid == MEDIA_STORAGE_DIRECTORY
        or _DIRECTORY_RECORD_KEY in parsed.header
    )


def is_media_directory(ds: Dataset) -> bool:
    """A DICOMDIR, by content: its SOP class, or a directory record sequence without meta."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPClassUID") == MEDIA_STORAGE_DIRECTORY:
        return True
    return _DIRECTORY_RECORD_SEQUENCE in ds


def read_header_and_pixel_offset(path: str | PathLike[str]) -> tuple[Dataset, int | None]:
    """:func:`read_header`, and where the rest of the file (the pixel data element) starts
    when its bytes may be copied as they are after a rewritten header.

    That offset is given when the pixel data element, little-endian, runs
    exactly to the end of the file (or when there is nothing after the
    header); None when something follows it, or for deflated and big-endian files.

    Raises:
        InvalidDicomError: as :func:`read_header`.
    """
    return _read_checked(path, find_rest=True)


def _read_checked(path: str | PathLike[str], *, find_rest: bool) -> tuple[Dataset, int | None]:
    # find_rest: walk encapsulated fragments to find their end (the ingest does not need it).
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            # Opening a FIFO blocks forever and a device never ends: not read at all.
            raise InvalidDicomError(path, "not a regular file (a FIFO, socket or device)")
        with open(path, "rb") as fp:
            return _read_file(fp, status.st_size, path, find_rest=find_rest)
    except OSError as exc:
        raise InvalidDicomError(path, f"unreadable ({exc.strerror or exc})") from exc


def _read_file(
    fp: BinaryIO, size: int, path: str | PathLike[str], *, find_rest: bool
) -> tuple[Dataset, int | None]:
    """:func:`_read_checked` on an open file (or the file's bytes in memory) of ``size`` bytes."""
    try:
        try:
            ds = dcmread(fp, stop_before_pixels=True)
        except PydicomInvalidDicomError:
            # No preamble/DICM prefix: old or raw files. Accept them only when
            # they start like a DICOM dataset (group 0008, SOP UIDs present);
            # the first two bytes tell, before any costly read of garbage.
            fp.seek(0)
            if fp.read(2) not in _GROUP_0008:
                raise InvalidDicomError(path, _NOT_DICOM) from None
            fp.seek(0)
            ds = dcmread(fp, stop_before_pixels=True, force=True)
            if not _looks_like_dataset(ds):
                raise InvalidDicomError(path, _NOT_DICOM) from None
        problem, rest = _truncation(ds, fp, size, find_rest=find_rest)
    except (InvalidDicomError, OSError):
        raise
    except Exception as exc:  # hostile input makes pydicom raise many different types
        raise InvalidDicomError(path, f"malformed DICOM ({type(exc).__name__}: {exc})") from exc
    if problem is not None:
        raise InvalidDicomError(path, f"truncated: {problem}")
    if not len(ds):
        raise InvalidDicomError(path, "no data elements after the file meta information")
    return ds, rest


def _looks_like_dataset(ds: Dataset) -> bool:
    """True when a force-read file starts with group 0008 and carries its SOP UIDs."""
    tags = list(ds.keys())
    return bool(tags) and min(tags).group == 0x0008 and 0x00080016 in ds and 0x00080018 in ds


def _truncation(
    ds: Dataset, fp: BinaryIO, size: int, *, find_rest: bool
) -> tuple[str | None, int | None]:
    """Why the file looks truncated (None when it looks whole), and where its
    copyable rest starts (see :func:`read_header_and_pixel_offset`)."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return None, None  # read through a decompressor: file offsets say nothing
    position = fp.tell()
    if position < size:
        return _pixel_data_truncation(ds, fp, position, size, find_rest=find_rest)
    if not len(ds):
        return None, None
    last = ds.get_item(max(ds.keys()))
    if isinstance(last, RawDataElement) and last.length != _UNDEFINED_LENGTH:
        held = len(last.value) if last.value is not None else 0
        if held < last.length:
            return f"element {last.tag} declares {last.length} bytes, the file holds {held}", None
        stray = size - (last.value_tell + last.length)
        if stray > 0:
            return f"{stray} bytes after element {last.tag} are an incomplete element", None
    return None, size


def _pixel_data_truncation(
    ds: Dataset, fp: BinaryIO, position: int, size: int, *, find_rest: bool
) -> tuple[str | None, int | None]:
    """Check the element reading stopped at (pixel data) fits in the file; and whether
    it ends the file (then its offset is returned, for a copy of its bytes)."""
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return None, None
    header = fp.read(12)
    endian = "<" if little else ">"
    # Some writers switch to implicit VR for the pixel data element: no VR letters.
    if implicit or not header[4:6].isalpha():
        if len(header) < 8:
            return "the pixel data element header is cut off", None
        length = struct.unpack(f"{endian}L", header[4:8])[0]
        header_length = 8
    else:
        if len(header) < 8:
            return "the pixel data element header is cut off", None
        if header[4:6] in _LONG_VRS:
            if len(header) < 12:
                return "the pixel data element header is cut off", None
            length = struct.unpack(f"{endian}L", header[8:12])[0]
            header_length = 12
        else:
            length = struct.unpack(f"{endian}H", header[6:8])[0]
            header_length = 8
    if length == _UNDEFINED_LENGTH:
        # Encapsulated: truncation is not judged (trusted, as before); the end is found
        # by walking the fragments, for the copy only.
        end = _fragments_end(fp, position + header_length, endian) if find_rest else None
    else:
        available = size - position - header_length
        if available < length:
            return f"pixel data declares {length} bytes, the file holds {max(available, 0)}", None
        end = position + header_length + length
    return None, position if end == size and little else None


def _fragments_end(fp: BinaryIO, position: int, endian: str) -> int | None:
    """Where the encapsulated fragments starting at ``position`` end (after the sequence
    delimiter); None when they are cut off or malformed."""
    while True:
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            return None
        group, element, length = struct.unpack(f"{endian}HHL", item)
        if (group, element) == (0xFFFE, 0xE0DD):
            return position + 8
        if (group, element) != (0xFFFE, 0xE000) or length == _UNDEFINED_LENGTH:
            return None
        position += 8 + length
