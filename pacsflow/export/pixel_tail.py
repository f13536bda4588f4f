"""Pixel data copied as bytes: a pseudonymised file is its new header plus the source's pixel data.

Pseudonymisation changes the header only. Reading the header (pydicom stops
before the pixels), writing it anew and appending the source's pixel data
element verbatim costs a fraction of decoding and re-encoding a whole
half-megabyte instance. It is done only when that element is provably the
last thing in the file (nothing after it could escape the rules) and the
transfer syntax stores the dataset as little-endian, uncompressed elements;
otherwise the caller falls back to rewriting the whole dataset.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import BinaryIO

from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

__all__ = ["append_pixel_tail", "pixel_tail_start"]

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _SEQUENCE_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)


def pixel_tail_start(fp: BinaryIO, ds: Dataset) -> int | None:
    """Where the pixel data element starts in ``fp``, just read by ``dcmread(fp,
    stop_before_pixels=True)``, if it runs exactly to the end of the file; else None."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None or syntax in (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian):
        return None
    start, size = fp.tell(), os.fstat(fp.fileno()).st_size
    if start == size:
        return start  # no pixel data
    end = _element_end(fp, start, implicit=syntax == ImplicitVRLittleEndian)
    return start if end == size else None


def _element_end(fp: BinaryIO, start: int, *, implicit: bool) -> int | None:
    fp.seek(start)
    head = fp.read(8 if implicit else 12)
    if len(head) < 8 or struct.unpack("<H", head[:2])[0] != 0x7FE0:
        return None
    if implicit:
        length, position = struct.unpack("<I", head[4:8])[0], start + 8
    elif head[4:6] in _LONG_VRS and len(head) == 12:
        length, position = struct.unpack("<I", head[8:12])[0], start + 12
    else:
        length, position = struct.unpack("<H", head[6:8])[0], start + 8
    if length != _UNDEFINED:
        return position + int(length)
    while True:  # encapsulated fragments, up to the sequence delimiter
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            return None
        group, element, item_length = struct.unpack("<HHI", item)
        if (group, element) == _SEQUENCE_END:
            return position + 8
        if (group, element) != _ITEM or item_length == _UNDEFINED:
            return None
        position += 8 + item_length


def append_pixel_tail(source: Path, start: int, target: Path) -> None:
    """Append the bytes of ``source`` from ``start`` to its end to ``target``.

    The kernel copies them (``copy_file_range``: no trip through user space);
    where it cannot, they are copied through a buffer.
    """
    with source.open("rb") as tail, target.open("r+b") as out:
        out.seek(0, os.SEEK_END)
        offset, remaining = start, os.fstat(tail.fileno()).st_size - start
        try:
            while remaining > 0:
                copied = os.copy_file_range(tail.fileno(), out.fileno(), remaining, offset)
                if copied == 0:
                    break
                offset, remaining = offset + copied, remaining - copied
        except OSError:  # e.g. a file system or kernel without it
            tail.seek(offset)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(tail, out, 1 << 20)
