"""The file meta group of a Part 10 file, read from its bytes for the one-pass reader.

Also the element-header layouts :mod:`pacsflow.dicom.fast_header` reads the
dataset with.
"""

from __future__ import annotations

import functools
import struct

from pydicom.uid import UID

from pacsflow.dicom.fast_values import CONVERTERS, NeedsPydicomError, TruncatedError

__all__ = ["EXPLICIT", "LENGTH", "VR_HEADERS", "implicit_vr_of", "read_file_meta"]

EXPLICIT = struct.Struct("<HH2sH")
"""An explicit VR element header: tag, VR, 2-byte length."""
LENGTH = struct.Struct("<L")
"""A 4-byte length."""
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
# Explicit VR bytes -> (VR, element header length); unknown VR bytes are missing.
VR_HEADERS = {vr.encode(): (vr, 12 if vr in _LONG_VRS else 8) for vr in [*CONVERTERS, "SQ"]}
# The file meta elements read here, and the VR pydicom reads them by (another fails there).
_META_VRS = {0x0000: "UL", 0x0002: "UI", 0x0010: "UI"}


@functools.lru_cache(maxsize=64)
def implicit_vr_of(transfer_syntax: str) -> bool:
    """Whether the dataset of this transfer syntax is implicit VR (little endian only).

    Raises:
        NeedsPydicomError: big endian, or not a transfer syntax pydicom knows.
    """
    uid = UID(transfer_syntax)
    if not uid.is_transfer_syntax or not uid.is_little_endian:
        raise NeedsPydicomError(f"transfer syntax {transfer_syntax}")
    return bool(uid.is_implicit_VR)


def read_file_meta(buf: bytes) -> tuple[str, str | None, int]:
    """The transfer syntax, the media storage SOP class and where the dataset starts.

    Anything odd (no DICM prefix, an unknown VR, a group length that disagrees
    with the elements) is pydicom's.
    """
    if buf[128:132] != b"DICM":
        raise TruncatedError("no DICM prefix") if len(buf) < 132 else NeedsPydicomError("no DICM")
    pos, end = 132, len(buf)
    transfer_syntax = sop_class = None
    group_end = None
    while True:
        if pos + 8 > end:
            raise TruncatedError("the file meta information is cut off")
        group, element, vr_bytes, length = EXPLICIT.unpack_from(buf, pos)
        if group != 0x0002:
            break
        found = VR_HEADERS.get(vr_bytes)
        if found is None:
            raise NeedsPydicomError("unknown VR in the file meta information")
        if found[1] == 12:
            if pos + 12 > end:
                raise TruncatedError("the file meta information is cut off")
            (length,) = LENGTH.unpack_from(buf, pos + 8)
        pos += found[1]
        if pos + length > end:
            raise TruncatedError("the file meta information is cut off")
        value = buf[pos : pos + length]
        if element in _META_VRS and found[0] != _META_VRS[element]:
            raise NeedsPydicomError(f"(0002,{element:04X}) of VR {found[0]}")
        if element == 0x0000:
            if length != 4:
                raise NeedsPydicomError("file meta group length")
            group_end = pos + 4 + LENGTH.unpack(value)[0]
        elif element == 0x0002:
            sop_class = value.decode("ascii").strip(" \x00") or None
        elif element == 0x0010:
            transfer_syntax = value.decode("ascii").strip(" \x00")
        pos += length
    if not transfer_syntax:
        raise NeedsPydicomError("no transfer syntax")
    if group_end is not None and group_end != pos:
        raise NeedsPydicomError("the file meta group length disagrees with its elements")
    return transfer_syntax, sop_class, pos
