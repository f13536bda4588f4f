"""The DICOM JSON (PS3.18 Annex F) of string values, shared by both header encoders.

:mod:`pacsflow.dicom.header_json` (on pydicom's raw elements) and
:mod:`pacsflow.dicom.fast_values` (on the file's bytes) build the same JSON
with these, and read as tolerantly.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["decimal_strings", "json_strings", "person_names"]


def json_strings(vr: str, items: list[str]) -> dict[str, Any]:
    """The JSON of a string value split into its items; one empty item: no value."""
    if len(items) == 1 and not items[0]:
        return {"vr": vr}
    return {"vr": vr, "Value": items}


# What pydicom strips around an IS/DS value (str.strip's whitespace, \x1c-\x1f included,
# of the Latin-1 range the value is decoded in) and the NULs some writers pad with.
_DECIMAL_PADDING = "".join(c for c in map(chr, range(256)) if c.isspace()) + "\x00"


def decimal_strings(vr: str, text: str) -> dict[str, Any]:
    """The JSON of an IS or DS value, from its text.

    Spaces and NUL padding are stripped, as pydicom does. Read tolerantly
    where pydicom's ``to_json_dict`` raises: a value that is not a number is
    kept as its text, an empty value among several is None, and so is a
    non-finite one.
    """
    text = text.strip(" \x00")
    if not text:
        return {"vr": vr}
    values: list[Any] = []
    for item in text.split("\\"):
        item = item.strip(_DECIMAL_PADDING)
        if not item:
            values.append(None)
            continue
        try:
            number = float(item)
        except ValueError:
            values.append(item)  # not a number: kept as written (tolerant reading)
            continue
        if not math.isfinite(number):
            values.append(None)
        elif vr == "IS":
            if not number.is_integer():
                values.append(item)
                continue
            values.append(int(number))
        else:
            values.append(number)
    return {"vr": vr, "Value": values}


def person_names(text: str) -> dict[str, Any]:
    """The JSON of a PN value, from its decoded text.

    Trailing empty component groups (``Yamada^Tarou=``) are dropped, as
    pydicom does; a value of separators only (``==``) is an empty Alphabetic
    group, where pydicom's ``to_json_dict`` raises.
    """
    if not text:
        return {"vr": "PN"}
    values = []
    for name in text.split("\\"):
        groups = name.split("=")
        while len(groups) > 1 and not groups[-1]:
            groups.pop()
        value = {"Alphabetic": groups[0]}
        if len(groups) > 1:
            value["Ideographic"] = groups[1]
        if len(groups) > 2:
            value["Phonetic"] = groups[2]
        values.append(value)
    return {"vr": "PN", "Value": values}
