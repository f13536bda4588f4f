"""Converting pacsanini 0.2.1's rows into pacsflow's, and counting what was converted.

Each converter takes an old row (a dict) and the :class:`AdoptionReport`, and
returns the row for pacsflow's revision 0001; see
:mod:`pacsflow.database.pacsanini_adoption` for what is converted and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, update

from pacsflow.database.models.tables import PATIENTS, STUDIES
from pacsflow.dicom.values import UNKNOWN_AGE, age_to_years, parse_tm

__all__ = [
    "AdoptionReport",
    "Converter",
    "HeaderFacts",
    "patient_row",
    "series_row",
    "studies_find_row",
    "study_row",
]

_TAG_PATIENT_NAME, _TAG_PATIENT_AGE, _TAG_ACQUISITION_TIME = "00100010", "00101010", "00080032"


@dataclass
class AdoptionReport:
    """What adopting a pacsanini database did: rows kept, values converted or left. Counts only."""

    rows: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    left_as_they_were: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], what: str, n: int = 1) -> None:
        bucket[what] = bucket.get(what, 0) + n

    def text(self) -> str:
        """The report as lines of text, for the CLI."""
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The report as lines for logs and the CLI."""
        kept = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        lines = [f"adopted a pacsanini 0.2.1 database; rows kept: {kept}"]
        lines += [f"  converted: {n} {what}" for what, n in sorted(self.converted.items())]
        lines += [
            f"  left as they were: {n} {what}" for what, n in sorted(self.left_as_they_were.items())
        ]
        return lines

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain data (for flow results and JSON)."""
        return {
            "rows": dict(self.rows),
            "converted": dict(self.converted),
            "left_as_they_were": dict(self.left_as_they_were),
        }


Converter = Callable[[dict[str, Any], AdoptionReport], dict[str, Any]]
"""Turns one old row into the new one, counting in the report what it converted or left."""


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date) or value is None:
        return value
    try:  # SQLite may hand back text when a value was written oddly
        return dt.datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


def _required(row: dict[str, Any], table: str, column: str, report: AdoptionReport) -> str:
    value = row.get(column)
    if value:
        return str(value)
    report.count(report.left_as_they_were, f"{table}.{column} empty (stand-in missing:...)")
    return f"missing:{table}:{row['id']}"


def studies_find_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    """A ``studies_find`` row: dates as dates, ``found_on`` never empty."""
    found_on = row.get("found_on")
    if found_on is None:
        report.count(report.left_as_they_were, "studies_find.found_on empty (set to retrieved_on)")
    return {
        "id": row["id"],
        "patient_name": row.get("patient_name"),
        "patient_id": row.get("patient_id"),
        "study_uid": _required(row, "studies_find", "study_uid", report),
        "study_date": _date(row.get("study_date")),
        "accession_number": row.get("accession_number"),
        "retrieved_on": row.get("retrieved_on"),
        "found_on": found_on or row.get("retrieved_on") or dt.datetime(1970, 1, 1),
    }


def patient_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    """A ``patients`` row: the birth date as a date, a stand-in for a missing ID."""
    return {
        "id": row["id"],
        "patient_id": _required(row, "patients", "patient_id", report),
        "patient_name": row.get("patient_name"),
        "patient_birth_date": _date(row.get("patient_birth_date")),
        "institution": row.get("institution"),
    }


def study_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    """A ``studies`` row: the date as a date, the age a float (-1: unknown)."""
    age = row.get("patient_age")
    return {
        "id": row["id"],
        "study_find_id": row.get("study_find_id"),
        "patient_id": row["patient_id"],
        "study_uid": _required(row, "studies", "study_uid", report),
        "study_date": _date(row.get("study_date")),
        "patient_age": float(age) if age is not None else UNKNOWN_AGE,
        "accession_number": row.get("accession_number"),
    }


def series_row(row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
    """A ``series`` row: a stand-in for a missing UID."""
    return {
        "id": row["id"],
        "study_id": row["study_id"],
        "series_uid": _required(row, "series", "series_uid", report),
        "modality": row.get("modality"),
    }


def _header_value(meta: Any, tag: str) -> Any:
    """The first value of a DICOM JSON element in ``meta`` (pacsanini's header), or None."""
    if not isinstance(meta, dict):
        return None
    element = meta.get(tag)
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    return values[0] if isinstance(values, list) and values else None


class HeaderFacts:
    """Converts image rows, and keeps what their headers tell about patients and studies."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # patients.patient_id -> PatientName
        self.ages: dict[str, float] = {}  # study_uid -> age in years

    def image_row(self, row: dict[str, Any], report: AdoptionReport) -> dict[str, Any]:
        meta = row.get("meta")
        name = row.get("patient_name")
        if not name:
            header_name = _header_value(meta, _TAG_PATIENT_NAME)
            if isinstance(header_name, dict):
                header_name = header_name.get("Alphabetic")
            if header_name:
                name = str(header_name)
                report.count(report.converted, "images.patient_name filled from the header")
        patient_id = _required(row, "images", "patient_id", report)
        if name:
            self.names.setdefault(patient_id, name)
        study_uid = _required(row, "images", "study_uid", report)
        age = _header_value(meta, _TAG_PATIENT_AGE)
        if age and age_to_years(age) != UNKNOWN_AGE:
            self.ages.setdefault(study_uid, age_to_years(age))
        return {
            "id": row["id"],
            "series_id": row["series_id"],
            "institution": row.get("institution"),
            "patient_id": patient_id,
            "patient_name": name,
            "study_uid": study_uid,
            "study_date": _date(row.get("study_date")),
            "series_uid": _required(row, "images", "series_uid", report),
            "modality": row.get("modality"),
            "sop_class_uid": row.get("sop_class_uid"),
            "image_uid": _required(row, "images", "image_uid", report),
            "acquisition_time": self._time(row.get("acquisition_time"), meta, report),
            "manufacturer": row.get("manufacturer"),
            "manufacturer_model_name": row.get("manufacturer_model_name"),
            "meta": meta,
            "filepath": row.get("filepath"),
        }

    @staticmethod
    def _time(value: Any, meta: Any, report: AdoptionReport) -> dt.time | None:
        from_header = parse_tm(_header_value(meta, _TAG_ACQUISITION_TIME))
        if from_header is not None:
            report.count(report.converted, "images.acquisition_time read from the header")
            return from_header
        if value is None or float(value) == -1:
            return None  # pacsanini's "absent"
        converted = parse_tm(float(value))  # the float of an HHMMSS.ffffff TM
        if converted is None:
            report.count(
                report.left_as_they_were, "images.acquisition_time not a time (set to NULL)"
            )
        else:
            report.count(report.converted, "images.acquisition_time read from the float")
        return converted

    def apply(self, conn: Connection, report: AdoptionReport) -> None:
        """Fill patient names pacsanini left NULL; recompute ages from PatientAge."""
        patients, studies = PATIENTS, STUDIES
        for patient_id, name in self.names.items():
            done = conn.execute(
                update(patients)
                .where(patients.c.patient_id == patient_id, patients.c.patient_name.is_(None))
                .values(patient_name=name)
            ).rowcount
            if done:
                report.count(report.converted, "patients.patient_name filled from the header")
        for study_uid, age in self.ages.items():
            done = conn.execute(
                update(studies)
                .where(studies.c.study_uid == study_uid, studies.c.patient_age != age)
                .values(patient_age=age)
            ).rowcount
            if done:
                report.count(report.converted, "studies.patient_age recomputed from PatientAge")
