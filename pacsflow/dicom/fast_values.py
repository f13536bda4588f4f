"""Value conversions and VR rules of the fast header reader (:mod:`pacsflow.dicom.fast_header`).

Each converter turns the raw bytes of one element (little endian, length > 0)
into its DICOM JSON object, with the same result as
:mod:`pacsflow.dicom.header_json` (which is tested equal to pydicom's
``to_json_dict``, with its documented tolerant readings). The VR of an element
whose file does not say it (implicit VR, explicit UN) is resolved as pydicom
resolves it, from pydicom's own dictionaries.
"""

from __future__ import annotations

import codecs
import functools
import struct
from base64 import b64encode
from collections.abc import Callable
from math import isfinite
from typing import Any

from pydicom import filewriter
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR, private_dictionary_VR

from pacsflow.dicom.header_json import BULK_THRESHOLD, SIMPLE_CODECS
from pacsflow.dicom.json_values import decimal_strings, json_strings, person_names

__all__ = [
    "BINARY_VRS",
    "CONVERTERS",
    "DEFAULT_CODEC",
    "MAX_INLINE",
    "NeedsMoreDataError",
    "NeedsPydicomError",
    "Scope",
    "TruncatedError",
    "codec_for",
    "resolve_vr",
]

MAX_INLINE = (BULK_THRESHOLD // 4) * 3
"""Binary values longer than this (in bytes) keep their VR but no value."""

DEFAULT_CODEC = "iso8859-1"
"""pydicom decodes text without (0008,0005) Specific Character Set as Latin-1."""

_PIXEL_REPRESENTATION = 0x00280103
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})

Converter = Callable[[bytes, str], dict[str, Any]]


class NeedsPydicomError(Exception):
    """The fast reader does not handle this file: pydicom reads it (the message says why)."""


class TruncatedError(NeedsPydicomError):
    """An element, item or sequence runs past the end of the bytes given.

    ``needed``: where the element that ran past ends (0 when not known), so
    that a reader of the file's start knows how much more to read at once.
    """

    def __init__(self, message: str, needed: int = 0) -> None:
        super().__init__(message)
        self.needed = needed


class NeedsMoreDataError(NeedsPydicomError):
    """The bytes given end before the pixel data: more of the file is needed (at least
    ``needed`` bytes when that is known, else 0)."""

    def __init__(self, message: str, needed: int = 0) -> None:
        super().__init__(message)
        self.needed = needed


class Scope:
    """What the elements of one dataset (top level or item) need from it and its parents."""

    __slots__ = ("codec", "creators", "in_sequence", "parent", "pixel_representation")

    def __init__(self, codec: str, parent: Scope | None) -> None:
        self.codec = codec
        self.creators: dict[int, str] = {}
        self.pixel_representation: int | None = None
        self.parent = parent
        #: The tag of the sequence being read in this dataset (its items' scopes are below).
        self.in_sequence = 0

    def find_pixel_representation(self, tag: int) -> int | None:
        """(0028,0103) Pixel Representation for element ``tag`` of this dataset: its own,
        else the nearest ancestor's (as pydicom resolves it, once the file is read).

        Raises:
            NeedsPydicomError: a dataset on the way may still hold one further on.
        """
        scope: Scope | None = self
        while scope is not None:
            if tag < _PIXEL_REPRESENTATION:
                raise NeedsPydicomError(f"US or SS {tag:08X} before PixelRepresentation")
            if scope.pixel_representation is not None:
                return scope.pixel_representation
            scope = scope.parent
            if scope is not None:
                tag = scope.in_sequence
        return None


def _ambiguous_tags(name: str) -> frozenset[int]:
    """Tags whose ambiguous VR pydicom resolves (its writer's own sets; none if renamed)."""
    return frozenset(getattr(filewriter, name, ()))


# pydicom resolves "US or SS" and an implicit "OB or OW" only for these tags;
# it leaves the others ambiguous, and so they are pydicom's.
_US_SS_TAGS = _ambiguous_tags("_AMBIGUOUS_US_SS_TAGS")
_OB_OW_TAGS = _ambiguous_tags("_AMBIGUOUS_OB_OW_TAGS") | _ambiguous_tags("_OVERLAY_DATA_TAGS")


@functools.cache
def _public_vr(tag: int) -> str | None:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


@functools.cache
def _private_vr(tag: int, creator: str) -> str:
    try:
        return str(private_dictionary_VR(tag, creator))
    except KeyError:
        return "UN"


def resolve_vr(tag: int, vr: str | None, length: int, scope: Scope, implicit: bool) -> str:
    """The VR pydicom gives an element whose VR is not written (None) or written as UN.

    The rules of pydicom's ``raw_element_vr`` hook and
    ``correct_ambiguous_vr_element``: private creators are LO; private
    elements take their block creator's private dictionary VR; group lengths
    are UL; an explicit UN of a known public tag takes the dictionary's VR
    (``replace_un_with_known_vr``); ``US or SS`` follows Pixel Representation.

    Raises:
        NeedsPydicomError: an ambiguous VR whose rule needs more than that.
    """
    if vr is None or vr == "UN":
        if (tag >> 16) & 1:
            element = tag & 0xFFFF
            if 0x0010 <= element <= 0x00FF:
                vr = "LO"
            elif element & 0xFF00:
                creator = scope.creators.get((tag & 0xFFFF0000) | (element >> 8))
                vr = _private_vr(tag, creator) if creator else "UN"
            else:
                vr = "UN"
        else:
            known = _public_vr(tag)
            if vr is None:
                vr = known if known is not None else ("UL" if tag & 0xFFFF == 0 else "UN")
            elif known is not None and length < 0xFFFF:
                vr = known
    if " or " in vr:
        if vr == "US or SS" and tag in _US_SS_TAGS:
            representation = scope.find_pixel_representation(tag)
            if representation is None:
                raise NeedsPydicomError(f"ambiguous VR of {tag:08X} without PixelRepresentation")
            vr = "SS" if representation else "US"
        elif vr == "OB or OW" and implicit and tag in _OB_OW_TAGS:
            vr = "OW"
        else:
            raise NeedsPydicomError(f"ambiguous VR {vr} of {tag:08X}")
    return vr


@functools.lru_cache(maxsize=256)
def codec_for(raw: bytes) -> str:
    """The Python codec of a (0008,0005) Specific Character Set value.

    Only a value that is exactly one of pydicom's names (with at most one pad
    byte) is decoded here; pydicom corrects, warns about or refuses the others.

    Raises:
        NeedsPydicomError: code extensions, several values, or a name that is not exact.
    """
    text = raw.decode(DEFAULT_CODEC)
    names = text[:-1] if text[-1:] in (" ", "\x00") else text
    if not names:
        return DEFAULT_CODEC
    if "\\" in names or names.startswith("ISO 2022"):
        raise NeedsPydicomError("character set with code extensions")
    codec = python_encoding.get(names)
    if codec is None:
        raise NeedsPydicomError("a character set name pydicom corrects or refuses")
    name = codecs.lookup(codec).name
    if name not in SIMPLE_CODECS:
        raise NeedsPydicomError("character set decoded by pydicom")
    return name


def _binary(vr: str) -> Converter:
    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        if len(raw) > MAX_INLINE:
            return {"vr": vr}
        return {"vr": vr, "InlineBinary": b64encode(raw).decode("ascii")}

    return convert


def _numbers(vr: str, fmt: str) -> Converter:
    unpacker = struct.Struct(f"<{fmt}")
    size, unpack, iter_unpack = unpacker.size, unpacker.unpack, unpacker.iter_unpack
    floats = vr in ("FL", "FD")

    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        length = len(raw)
        if length == size:
            values = list(unpack(raw))
        elif length % size:
            raise NeedsPydicomError(f"{vr} value of {length} bytes")
        else:
            values = [value for (value,) in iter_unpack(raw)]
        if floats:
            values = [value if isfinite(value) else None for value in values]
        return {"vr": vr, "Value": values}

    return convert


def _multi_string(vr: str) -> Converter:
    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        return json_strings(vr, raw.decode(DEFAULT_CODEC).rstrip(" \x00").split("\\"))

    return convert


def _decimal(vr: str) -> Converter:
    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        return decimal_strings(vr, raw.decode(DEFAULT_CODEC))

    return convert


def _text(vr: str) -> Converter:
    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        return json_strings(vr, [s.rstrip("\x00 ") for s in raw.decode(codec).split("\\")])

    return convert


def _single_text(vr: str) -> Converter:
    def convert(raw: bytes, codec: str) -> dict[str, Any]:
        return json_strings(vr, [raw.decode(codec).rstrip("\x00 ")])

    return convert


def _pn(raw: bytes, codec: str) -> dict[str, Any]:
    return person_names(raw.rstrip(b"\x00 ").decode(codec))


def _ae(raw: bytes, codec: str) -> dict[str, Any]:
    return json_strings("AE", [s.strip() for s in raw.decode(DEFAULT_CODEC).split("\\")])


def _ur(raw: bytes, codec: str) -> dict[str, Any]:
    return json_strings("UR", [raw.decode(DEFAULT_CODEC).rstrip()])


def _ui(raw: bytes, codec: str) -> dict[str, Any]:
    # pydicom's UID class strips every value of surrounding whitespace (\t and \r too).
    items = raw.decode(DEFAULT_CODEC).rstrip(" \x00").split("\\")
    return json_strings("UI", [s.strip() for s in items])


def _at(raw: bytes, codec: str) -> dict[str, Any]:
    if len(raw) % 4:
        raise NeedsPydicomError(f"AT value of {len(raw)} bytes")
    return {"vr": "AT", "Value": [f"{g:04X}{e:04X}" for g, e in struct.iter_unpack("<HH", raw)]}


def _converters() -> dict[str, Converter]:
    table: dict[str, Converter] = {vr: _binary(vr) for vr in BINARY_VRS}
    for vr, fmt in (("US", "H"), ("SS", "h"), ("UL", "L"), ("SL", "l")):
        table[vr] = _numbers(vr, fmt)
    for vr, fmt in (("UV", "Q"), ("SV", "q"), ("FL", "f"), ("FD", "d")):
        table[vr] = _numbers(vr, fmt)
    table.update({vr: _multi_string(vr) for vr in ("AS", "CS", "DA", "DT", "TM")})
    table.update({vr: _decimal(vr) for vr in ("IS", "DS")})
    table.update({vr: _text(vr) for vr in ("SH", "LO", "UC")})
    table.update({vr: _single_text(vr) for vr in ("LT", "ST", "UT")})
    table.update({"PN": _pn, "AE": _ae, "UR": _ur, "UI": _ui, "AT": _at})
    return table


CONVERTERS: dict[str, Converter] = _converters()
"""Converter of each VR but SQ, by its name."""
