"""Series filters: retrieve only the series a research request wants (e.g. CT, no scouts).

A filter selects series by Modality, by SeriesDescription (regular
expressions, case-insensitive, to include and to exclude) and optionally by
SeriesNumber. It is judged on the answers of a series-level C-FIND, so only
the matching series are moved and completeness is judged against them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["SeriesFilter"]

_MODALITY_RE = re.compile(r"[A-Z0-9_]{1,16}")


@dataclass(frozen=True)
class SeriesFilter:
    """Which series of a study to retrieve; an empty filter keeps the whole study.

    Args:
        modalities: keep series whose Modality is one of these (any when empty).
        include_descriptions: keep series whose SeriesDescription matches one of
            these regular expressions (searched, case-insensitive; any when empty).
        exclude_descriptions: drop series whose SeriesDescription matches one of these.
        series_numbers: keep only these SeriesNumbers (any when empty).
    """

    modalities: list[str] = field(default_factory=list)
    include_descriptions: list[str] = field(default_factory=list)
    exclude_descriptions: list[str] = field(default_factory=list)
    series_numbers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", [m.strip().upper() for m in self.modalities])
        for modality in self.modalities:
            if not _MODALITY_RE.fullmatch(modality):
                raise ValueError(f"{modality!r} is not a modality (e.g. CT, MR, DX)")
        for pattern in (*self.include_descriptions, *self.exclude_descriptions):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None

    @property
    def active(self) -> bool:
        """Whether the filter selects anything less than the whole study."""
        return bool(
            self.modalities
            or self.include_descriptions
            or self.exclude_descriptions
            or self.series_numbers
        )

    def matches(self, modality: str | None, description: str | None, number: int | None) -> bool:
        """Whether a series with these attributes is kept."""
        text = description or ""
        if self.modalities and (modality or "").upper() not in self.modalities:
            return False
        if self.series_numbers and number not in self.series_numbers:
            return False
        if self.include_descriptions and not any(
            re.search(p, text, re.IGNORECASE) for p in self.include_descriptions
        ):
            return False
        return not any(re.search(p, text, re.IGNORECASE) for p in self.exclude_descriptions)

    def to_json(self) -> str:
        """A canonical JSON text: equal filters give equal texts (stored with a cohort)."""
        return json.dumps(
            {
                "modalities": sorted(set(self.modalities)),
                "include_descriptions": sorted(set(self.include_descriptions)),
                "exclude_descriptions": sorted(set(self.exclude_descriptions)),
                "series_numbers": sorted(set(self.series_numbers)),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> SeriesFilter:
        """The filter stored by :meth:`to_json` (the empty filter for None)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            modalities=list(data.get("modalities", [])),
            include_descriptions=list(data.get("include_descriptions", [])),
            exclude_descriptions=list(data.get("exclude_descriptions", [])),
            series_numbers=[int(n) for n in data.get("series_numbers", [])],
        )

    def describe(self) -> str:
        """The filter in words, for summaries (no patient data in a filter)."""
        if not self.active:
            return "whole studies"
        parts = []
        if self.modalities:
            parts.append("Modality in " + "/".join(self.modalities))
        if self.include_descriptions:
            parts.append("SeriesDescription ~ " + " or ".join(self.include_descriptions))
        if self.exclude_descriptions:
            parts.append("not SeriesDescription ~ " + " or ".join(self.exclude_descriptions))
        if self.series_numbers:
            parts.append("SeriesNumber in " + ",".join(map(str, self.series_numbers)))
        return "; ".join(parts)
