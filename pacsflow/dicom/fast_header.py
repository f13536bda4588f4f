"""A Part 10 file's header straight from its bytes into the DICOM JSON model, in one pass.

pydicom builds a dataset of element objects, and :mod:`pacsflow.dicom.header_json`
then converts each of them: ~2-4 ms for a 256-element CT header. This reader
walks the raw bytes once and emits the same JSON (the same tolerant readings:
pixel data left out, binary values over the bulk threshold kept as their VR
only, NaN and infinity as null, an IS/DS that is not a number kept as text)
in a fraction of that. It handles explicit and implicit VR little endian
(and so every encapsulated syntax) and deflated explicit VR little endian.

Anything else, and anything odd, raises :class:`NeedsPydicomError`; the
caller (:func:`pacsflow.dicom.reading.read_header_json`) then reads the file
with pydicom as before, and that path gives the same answer or the same
refusal. Odd means: big endian, ISO 2022 or several character sets, an
ambiguous VR it cannot resolve, an unknown VR, a file whose dataset does not
use its transfer syntax's VR encoding, tags out of order or repeated, and any
truncation (an element, item or sequence running past the end, or pixel data
longer than the file). The truncation rules keep it from answering for a
file that pydicom's path (with pacsflow's checks) refuses.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from pydicom.uid import DeflatedExplicitVRLittleEndian

from pacsflow.dicom.fast_file_meta import (
    EXPLICIT,
    LENGTH,
    VR_HEADERS,
    implicit_vr_of,
    read_file_meta,
)
from pacsflow.dicom.fast_values import (
    BINARY_VRS,
    CONVERTERS,
    DEFAULT_CODEC,
    MAX_INLINE,
    NeedsMoreDataError,
    NeedsPydicomError,
    Scope,
    TruncatedError,
    codec_for,
    resolve_vr,
)
from pacsflow.dicom.header_json import PIXEL_DATA_TAGS

__all__ = ["NeedsMoreDataError", "NeedsPydicomError", "ParsedHeader", "parse_header"]

_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_IMPLICIT = struct.Struct("<HHL")  # tag, 4-byte length (also items and delimiters)
_PIXEL_REPRESENTATION = 0x00280103
_SPECIFIC_CHARACTER_SET = 0x00080005


@dataclass(frozen=True, slots=True)
class ParsedHeader:
    """What :func:`parse_header` read from a file."""

    #: The dataset (file meta group excluded) in the DICOM JSON model, keyed by tag.
    header: dict[str, Any]
    #: (0002,0002) Media Storage SOP Class UID of the file meta group (a DICOMDIR's tells).
    media_storage_sop_class_uid: str | None
    #: (0002,0010) Transfer Syntax UID.
    transfer_syntax_uid: str


class _Keys(dict[int, str]):
    """The JSON key of each tag, made once (formatting costs more than the look-up)."""

    def __missing__(self, tag: int) -> str:
        if len(self) > 100_000:  # damaged files bring random tags: keep the cache bounded
            self.clear()
        key = self[tag] = f"{tag:08X}"
        return key


_KEYS = _Keys()


def parse_header(data: bytes, *, file_size: int | None = None) -> ParsedHeader:
    """The header of a Part 10 file (everything before the pixel data) from its bytes.

    Args:
        data: the whole file, or its first bytes.
        file_size: the file's size, when ``data`` may be only its start: pixel
            data longer than the file is truncation, and a header that runs
            past ``data`` asks for more. None: ``data`` is the whole file.

    Raises:
        NeedsMoreDataError: ``data`` ends before the pixel data, and the file is longer.
        NeedsPydicomError: the file is not one this reader handles (see the module).
    """
    size = len(data) if file_size is None else file_size
    complete = len(data) >= size
    try:
        return _parse(bytes(data), complete, size)
    except TruncatedError as exc:
        if complete:
            raise
        raise NeedsMoreDataError(str(exc), exc.needed) from None
    except NeedsPydicomError:
        raise
    except (
        UnicodeDecodeError,
        LookupError,
        zlib.error,
        struct.error,
        ValueError,
        RecursionError,  # sequences nested deeper than Python recurses: pydicom's say
    ) as exc:
        raise NeedsPydicomError(f"{type(exc).__name__}: {exc}") from None


def _parse(buf: bytes, complete: bool, size: int) -> ParsedHeader:
    transfer_syntax, sop_class, pos = read_file_meta(buf)
    implicit = implicit_vr_of(transfer_syntax)
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        if not complete:
            raise NeedsMoreDataError("a deflated file is read whole", size)
        buf, pos, size = zlib.decompress(buf[pos:], -zlib.MAX_WBITS), 0, -1
    top = Scope(DEFAULT_CODEC, None)
    header, pixel_data = _dataset(buf, pos, len(buf), implicit, top, top=True)
    if pixel_data is None and not complete:
        raise NeedsMoreDataError("the header runs past the bytes read")
    if not header:
        raise NeedsPydicomError("no data elements after the file meta information")
    if pixel_data is not None and size >= 0:
        value_at, length = pixel_data
        if length != _UNDEFINED and value_at + length > size:
            raise NeedsPydicomError("the pixel data run past the end of the file")
    return ParsedHeader(header, sop_class, transfer_syntax)


def _check_encoding(buf: bytes, pos: int, end: int, implicit: bool, top: bool) -> None:
    """Fall back when a dataset's first element is not in the expected VR encoding.

    pydicom looks at the VR bytes (two capital letters or not) and reads the
    dataset the way they say; items of an implicit sequence stay implicit.
    """
    if pos + 6 > end or (buf[pos] == 0xFE and buf[pos + 1] == 0xFF):
        return
    found_implicit = not (0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B)
    if found_implicit != implicit and (top or not implicit):
        raise NeedsPydicomError("the dataset does not use its transfer syntax's VR encoding")


def _dataset(
    buf: bytes, pos: int, end: int, implicit: bool, scope: Scope, *, top: bool = False
) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """The elements from ``pos`` to ``end`` (or an item delimiter, the position after it).

    Returns:
        The JSON, and at the top level where the pixel data value starts and its
        length (None when there is none); in an item, ``(end position, 0)``.
    """
    _check_encoding(buf, pos, end, implicit, top)
    out: dict[str, Any] = {}
    keys, converters = _KEYS, CONVERTERS
    unpack_implicit, unpack_explicit = _IMPLICIT.unpack_from, EXPLICIT.unpack_from
    vr_headers = VR_HEADERS
    last = -1
    while pos < end:
        if pos + 8 > end:
            raise TruncatedError("an element header is cut off")
        if implicit:
            group, element, length = unpack_implicit(buf, pos)
            vr: str | None = None
            pos += 8
        else:
            group, element, vr_bytes, length = unpack_explicit(buf, pos)
            if group == 0xFFFE:  # delimiters carry no VR
                (length,) = LENGTH.unpack_from(buf, pos + 4)
                vr = None
                pos += 8
            else:
                found = vr_headers.get(vr_bytes)
                if found is None:
                    raise NeedsPydicomError(f"unknown VR bytes {vr_bytes!r}")
                vr, header_length = found
                if header_length == 12:
                    if pos + 12 > end:
                        raise TruncatedError("an element header is cut off")
                    (length,) = LENGTH.unpack_from(buf, pos + 8)
                pos += header_length
        tag = group << 16 | element
        if group == 0xFFFE:
            if tag == _ITEM_END and not top:
                return out, (pos, 0)
            raise NeedsPydicomError(f"{tag:08X} inside a dataset")
        if tag <= last:  # out of order or repeated: pydicom's, and its truncation checks'
            raise NeedsPydicomError("tags out of order")
        last = tag
        if tag in PIXEL_DATA_TAGS:
            if top:  # pydicom's stop_before_pixels
                return out, (pos, length)
            pos = _after_fragments(buf, pos, end) if length == _UNDEFINED else pos + length
            continue
        explicit_un = vr == "UN"
        if vr is None or explicit_un:
            vr = resolve_vr(tag, vr, length, scope, implicit)
        if vr == "SQ" or (vr == "UN" and length == _UNDEFINED):
            # An undefined-length UN is an implicit VR sequence (PS3.5 6.2.2), and
            # so is the body of an explicit UN the dictionary knows as SQ.
            items_implicit = implicit or explicit_un or vr == "UN"
            scope.in_sequence = tag
            if length == _UNDEFINED:
                items, pos = _sequence(buf, pos, end, items_implicit, scope, None)
            else:
                if pos + length > end:
                    raise TruncatedError("a sequence runs past the end", pos + length)
                items, pos = _sequence(buf, pos, pos + length, items_implicit, scope, pos + length)
            out[keys[tag]] = {"vr": "SQ", "Value": items}
            continue
        if length == _UNDEFINED:
            raise NeedsPydicomError(f"undefined length of a {vr} element")
        stop = pos + length
        if stop > end:
            raise TruncatedError("a value runs past the end", stop)
        if tag == _SPECIFIC_CHARACTER_SET and vr != "CS":
            raise NeedsPydicomError("a Specific Character Set that is not CS")
        if length == 0 or (length > MAX_INLINE and vr in BINARY_VRS):
            out[keys[tag]] = {"vr": vr}
        else:
            raw = buf[pos:stop]
            convert = converters.get(vr)
            if convert is None:
                raise NeedsPydicomError(f"VR {vr}")
            out[keys[tag]] = convert(raw, scope.codec)
            if group & 1:
                if 0x0010 <= element <= 0x00FF:
                    scope.creators[tag] = raw.decode(DEFAULT_CODEC).strip(" \x00")
            elif tag == _SPECIFIC_CHARACTER_SET:
                scope.codec = codec_for(raw)
            elif tag == _PIXEL_REPRESENTATION and vr == "US" and length == 2:
                scope.pixel_representation = buf[pos] | buf[pos + 1] << 8
        pos = stop
    return out, None


def _sequence(
    buf: bytes, pos: int, end: int, implicit: bool, parent: Scope, defined_end: int | None
) -> tuple[list[dict[str, Any]], int]:
    """The items of a sequence; ``defined_end`` is where a defined-length one ends."""
    items: list[dict[str, Any]] = []
    while pos < end:
        if pos + 8 > end:
            raise TruncatedError("an item header is cut off")
        group, element, length = _IMPLICIT.unpack_from(buf, pos)
        tag = group << 16 | element
        pos += 8
        if tag == _SEQUENCE_END:
            return items, pos
        if tag != _ITEM:
            raise NeedsPydicomError(f"{tag:08X} where an item was expected")
        scope = Scope(parent.codec, parent)
        if length == _UNDEFINED:
            item, stopped = _dataset(buf, pos, end, implicit, scope)
            if stopped is None:
                raise TruncatedError("an item has no delimiter")
            pos = stopped[0]
        else:
            if pos + length > end:
                raise TruncatedError("an item runs past the end")
            item, _ = _dataset(buf, pos, pos + length, implicit, scope)
            pos += length
        items.append(item)
    if defined_end is None:
        raise TruncatedError("a sequence has no delimiter")
    return items, pos


def _after_fragments(buf: bytes, pos: int, end: int) -> int:
    """Past the sequence delimiter of encapsulated fragments (pixel data in an item)."""
    while pos + 8 <= end:
        group, element, length = _IMPLICIT.unpack_from(buf, pos)
        tag = group << 16 | element
        pos += 8
        if tag == _SEQUENCE_END:
            return pos
        if tag != _ITEM or length == _UNDEFINED:
            raise NeedsPydicomError("malformed encapsulated fragments")
        pos += length
    raise TruncatedError("encapsulated fragments are cut off")
