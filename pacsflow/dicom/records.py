"""Convert pydicom datasets into the rows of pacsflow's tables (plain dicts).

Conversion is pure: a dataset goes in, plain row dicts come out, and nothing
touches a database (the seed's ``dcm2*`` model builders, in
:mod:`pacsflow.db`, are made from these rows). Optional values are read tolerantly
(:mod:`pacsflow.dicom.values`); a missing or unusable required identifier
raises :class:`~pacsflow.errors.MissingTagError` or
:class:`~pacsflow.errors.InvalidTagError` naming the tag and the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike, fspath
from typing import Any

from pydicom.dataset import Dataset

from pacsflow.dicom.header_json import dataset_to_json
from pacsflow.dicom.reading import MEDIA_STORAGE_DIRECTORY, is_media_directory
from pacsflow.dicom.values import (
    age_to_years,
    element_text,
    is_valid_uid,
    parse_da,
    parse_int,
    parse_tm,
    person_name,
)
from pacsflow.errors import InvalidTagError, MissingTagError, NotAnInstanceError

__all__ = [
    "MEDIA_STORAGE_DIRECTORY",
    "NO_PATIENT_ID_PREFIX",
    "ImageRecord",
    "dcm2records",
    "header2records",
    "header_json",
    "is_media_directory",
    "patient_row_of",
    "series_row_of",
    "study_finding_row",
    "study_row_of",
]

NO_PATIENT_ID_PREFIX = "no-patient-id:"
"""``patients.patient_id`` of the stand-in patient of a study whose images have no PatientID."""

Source = str | PathLike[str] | None

_REQUIRED_TAGS = {
    "StudyInstanceUID": "(0020,000D)",
    "SeriesInstanceUID": "(0020,000E)",
    "SOPInstanceUID": "(0008,0018)",
}


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """The rows one instance contributes to each table, keyed by natural keys.

    Foreign keys (``patients.id`` ...) are not known until insert time and are
    filled in by :func:`pacsflow.database.crud.insert_records`.
    """

    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    image: dict[str, Any]


_DIRECTORY_RECORD_KEY = "00041220"  # (0004,1220) Directory Record Sequence

# Keywords of the columns read from the header, by their JSON key (tag).
_KEYS = {
    "PatientID": "00100020",
    "PatientName": "00100010",
    "PatientBirthDate": "00100030",
    "PatientAge": "00101010",
    "StudyInstanceUID": "0020000D",
    "StudyDate": "00080020",
    "AccessionNumber": "00080050",
    "SeriesInstanceUID": "0020000E",
    "Modality": "00080060",
    "SOPClassUID": "00080016",
    "SOPInstanceUID": "00080018",
    "AcquisitionTime": "00080032",
    "Manufacturer": "00080070",
    "ManufacturerModelName": "00081090",
}


def _value_text(value: Any) -> str:
    if isinstance(value, dict):  # PN: rebuild the "alphabetic=ideographic=phonetic" form
        groups = (
            value.get("Alphabetic", ""),
            value.get("Ideographic", ""),
            value.get("Phonetic", ""),
        )
        value = "=".join(groups).rstrip("=")
    return "" if value is None else str(value).replace("\x00", "").strip()


def _values(header: dict[str, Any], keyword: str) -> list[str]:
    """The non-empty values of an element of the header JSON, as stripped text."""
    element = header.get(_KEYS[keyword])
    values = element.get("Value") if element else None
    return [text for text in map(_value_text, values or ()) if text]


def _text(header: dict[str, Any], keyword: str) -> str | None:
    """All values of an element as text, joined by backslashes as DICOM does; None if empty.

    A multi-valued element (two accession numbers, say) keeps every value.
    """
    return "\\".join(_values(header, keyword)) or None


def _first(header: dict[str, Any], keyword: str) -> str | None:
    """The first value, for the typed columns (dates, times, ages) that hold a single one."""
    values = _values(header, keyword)
    return values[0] if values else None


def _checked_uid(value: str | None, keyword: str, source: Source) -> str:
    """``value`` if it is a valid UID; else the error naming the tag and the file."""
    if value is None:
        raise MissingTagError(keyword, _REQUIRED_TAGS[keyword], source)
    if not is_valid_uid(value):
        raise InvalidTagError(
            keyword,
            _REQUIRED_TAGS[keyword],
            source,
            f"{value[:80]!r} is not a valid UID (digits and dots, at most 64 characters)",
        )
    return value


def _required_uid(header: dict[str, Any], keyword: str, source: Source) -> str:
    return _checked_uid(_text(header, keyword), keyword, source)


def _optional_uid(header: dict[str, Any], keyword: str) -> str | None:
    value = _text(header, keyword)
    return value if value is not None and is_valid_uid(value) else None


def header_json(ds: Dataset) -> dict[str, Any]:
    """The dataset in the DICOM JSON model (PS3.18 Annex F) without pixel or bulk data.

    Binary values larger than 1 KiB (bulk data) keep their VR but no value, so
    a reader knows they existed. See :mod:`pacsflow.dicom.header_json`.
    """
    return dataset_to_json(ds)


def _patient_row(header: dict[str, Any], institution: str | None, study_uid: str) -> dict[str, Any]:
    """The patient row; without a PatientID, the stand-in patient of the study (see Patient)."""
    patient_id = _text(header, "PatientID")
    return {
        "patient_id": patient_id or f"{NO_PATIENT_ID_PREFIX}{study_uid}",
        "patient_id_missing": patient_id is None,
        "patient_name": _text(header, "PatientName"),
        "patient_birth_date": parse_da(_first(header, "PatientBirthDate")),
        "institution": institution,
    }


def _study_row(header: dict[str, Any], source: Source) -> dict[str, Any]:
    return {
        "study_uid": _required_uid(header, "StudyInstanceUID", source),
        "study_date": parse_da(_first(header, "StudyDate")),
        "patient_age": age_to_years(_first(header, "PatientAge")),
        "accession_number": _text(header, "AccessionNumber"),
    }


def _series_row(header: dict[str, Any], source: Source) -> dict[str, Any]:
    return {
        "series_uid": _required_uid(header, "SeriesInstanceUID", source),
        "modality": _text(header, "Modality"),
    }


def dcm2records(
    ds: Dataset, *, institution: str | None = None, filepath: Source = None
) -> ImageRecord:
    """Convert one instance into the rows of the patients, studies, series and images tables.

    The header is encoded once (:func:`header_json`) and every column is read
    from that encoding (:func:`header2records`), so each value is decoded a
    single time.

    Args:
        ds: the instance's header (pixel data, if present, is ignored).
        institution: stored in ``patients.institution`` and ``images.institution``.
        filepath: where the instance lives, stored in ``images.filepath``.

    Raises:
        NotAnInstanceError / MissingTagError / InvalidTagError: as :func:`header2records`.
    """
    is_directory = is_media_directory(ds)
    return header2records(
        {} if is_directory else header_json(ds),
        is_directory=is_directory,
        institution=institution,
        filepath=filepath,
    )


def header2records(
    header: dict[str, Any],
    *,
    is_directory: bool = False,
    institution: str | None = None,
    filepath: Source = None,
) -> ImageRecord:
    """The rows of one instance, from its header in the DICOM JSON model.

    Args:
        header: the instance's header JSON (:func:`header_json`, or
            :func:`pacsflow.dicom.reading.read_header_json`); it becomes
            ``images.meta`` as it is.
        is_directory: the file is a DICOMDIR (see :func:`is_media_directory`).
        institution: stored in ``patients.institution`` and ``images.institution``.
        filepath: where the instance lives, stored in ``images.filepath``.

    An image without a PatientID belongs to the stand-in patient of its study
    (``no-patient-id:<StudyInstanceUID>``, ``patient_id_missing`` set). Text
    columns keep every value of a multi-valued element, joined by backslashes;
    date, time and age columns take the first value.

    Raises:
        NotAnInstanceError: the file is a DICOMDIR, which holds no instance.
        MissingTagError: StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID
            is missing, empty or undecodable.
        InvalidTagError: one of those UIDs is not a valid UID.
    """
    path = fspath(filepath) if filepath is not None else None
    if is_directory or _DIRECTORY_RECORD_KEY in header:
        raise NotAnInstanceError(
            path, "DICOMDIR", "a DICOMDIR (media storage directory), not an instance: skipped"
        )
    study = _study_row(header, path)
    patient = _patient_row(header, institution, study["study_uid"])
    series = _series_row(header, path)
    image = {
        "institution": institution,
        "patient_id": patient["patient_id"],
        "patient_name": patient["patient_name"],
        "study_uid": study["study_uid"],
        "study_date": study["study_date"],
        "series_uid": series["series_uid"],
        "modality": series["modality"],
        "sop_class_uid": _optional_uid(header, "SOPClassUID"),
        "image_uid": _required_uid(header, "SOPInstanceUID", path),
        "acquisition_time": parse_tm(_first(header, "AcquisitionTime")),
        "manufacturer": _text(header, "Manufacturer"),
        "manufacturer_model_name": _text(header, "ManufacturerModelName"),
        "meta": header,
        "filepath": path,
    }
    return ImageRecord(patient=patient, study=study, series=series, image=image)


def study_finding_row(ds: Dataset) -> dict[str, Any]:
    """The ``studies_find`` row for one C-FIND answer (study level).

    Raises:
        MissingTagError / InvalidTagError: StudyInstanceUID is missing or invalid.
    """
    study_uid = _checked_uid(element_text(ds, "StudyInstanceUID"), "StudyInstanceUID", None)
    return {
        "patient_name": person_name(ds),
        "patient_id": element_text(ds, "PatientID"),
        "study_uid": study_uid,
        "study_date": parse_da(ds.get("StudyDate")),
        "accession_number": element_text(ds, "AccessionNumber"),
        "expected_instances": parse_int(ds.get("NumberOfStudyRelatedInstances")),
        "modalities": _modalities(ds),
    }


def _modalities(ds: Dataset) -> str | None:
    """ModalitiesInStudy as stored: the values joined by backslashes, None when empty."""
    value = ds.get("ModalitiesInStudy")
    values = [value] if isinstance(value, str) else list(value or [])
    joined = "\\".join(str(v).strip() for v in values if str(v).strip())
    return joined or None


def patient_row_of(ds: Dataset, institution: str | None = None) -> dict[str, Any]:
    """The ``patients`` row of a dataset alone (see :func:`dcm2records` for PatientID).

    Raises:
        MissingTagError / InvalidTagError: no PatientID, and no valid
            StudyInstanceUID to key the stand-in patient by.
    """
    header = header_json(ds)
    has_id = _text(header, "PatientID") is not None
    study_uid = "" if has_id else _required_uid(header, "StudyInstanceUID", None)
    return _patient_row(header, institution, study_uid)


def study_row_of(ds: Dataset) -> dict[str, Any]:
    """The ``studies`` row of a dataset alone (no foreign keys).

    Raises:
        MissingTagError / InvalidTagError: StudyInstanceUID is missing or invalid.
    """
    return _study_row(header_json(ds), None)


def series_row_of(ds: Dataset) -> dict[str, Any]:
    """The ``series`` row of a dataset alone (no foreign key).

    Raises:
        MissingTagError / InvalidTagError: SeriesInstanceUID is missing or invalid.
    """
    return _series_row(header_json(ds), None)
