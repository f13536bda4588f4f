"""DICOM PS3.15 Annex E, Table E.1-1: the Basic Profile's action for each attribute.

The table itself comes from the ``dicom-anonymizer`` package, which carries it
for each edition of the standard; pacsflow only looks actions up in it. Actions
are the standard's codes: ``D`` (dummy), ``Z`` (empty or dummy), ``X``
(remove), ``U`` (replace the UID), and the combinations ``Z/D``, ``X/Z``,
``X/D``, ``X/Z/D``, ``X/Z/U*`` (the first allowed by the IOD).
"""

from __future__ import annotations

from functools import cache

from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.tag import BaseTag

__all__ = ["EDITION", "action_for"]

EDITION = "2026c"
"""The edition of PS3.15 whose table is applied (named in the export's manifest)."""

_CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}


@cache
def _table() -> tuple[dict[int, str], tuple[tuple[int, int, int, int, str], ...]]:
    """Exact tags to actions, and the repeating groups (tag, masks) to actions."""
    database = dicom_anonymization_database_selector(f"dicomfields_{EDITION}")
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for entry in database[category]:
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:
                group, element, group_mask, element_mask = entry
                masked.append((group, element, group_mask, element_mask, action))
    return exact, tuple(masked)


def action_for(tag: BaseTag) -> str | None:
    """The Basic Profile's action for ``tag``; None: the attribute is kept (``K``)."""
    exact, masked = _table()
    action = exact.get(int(tag))
    if action is not None:
        return action
    for group, element, group_mask, element_mask, masked_action in masked:
        if tag.group & group_mask == group & group_mask and (
            tag.element & element_mask == element & element_mask
        ):
            return masked_action
    return None
