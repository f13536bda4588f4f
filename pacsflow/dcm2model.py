"""Convert pydicom datasets into pacsflow rows and models (the seed's ``dcm2model``).

Conversion is pure: a dataset goes in, plain row dicts or unsaved models come
out, and nothing touches a database. Optional values are read tolerantly
(:mod:`pacsflow.dicom_values`); a missing or unusable required identifier
raises :class:`~pacsflow.errors.MissingTagError` or
:class:`~pacsflow.errors.InvalidTagError` naming the tag and the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike, fspath
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from pacsflow.dicom_file import read_header
from pacsflow.dicom_values import (
    age_to_years,
    element_text,
    is_valid_uid,
    parse_da,
    parse_int,
    parse_tm,
    person_name,
)
from pacsflow.errors import InvalidTagError, MissingTagError
from pacsflow.models import Image, Patient, Series, Study, StudyFind

__all__ = [
    "ImageRecord",
    "dcm2dbmodels",
    "dcm2image",
    "dcm2patient",
    "dcm2records",
    "dcm2series",
    "dcm2study",
    "dcm2study_finding",
    "header_json",
    "study_finding_row",
]

Source = str | PathLike[str] | None

_REQUIRED_TAGS = {
    "PatientID": "(0010,0020)",
    "StudyInstanceUID": "(0020,000D)",
    "SeriesInstanceUID": "(0020,000E)",
    "SOPInstanceUID": "(0008,0018)",
}
# Pixel data in all its forms: never stored in the header JSON.
_PIXEL_TAGS = ("7FE00008", "7FE00009", "7FE00010")
_BULK_PLACEHOLDER = "pacsflow:omitted"


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """The rows one instance contributes to each table, keyed by natural keys.

    Foreign keys (``patients.id`` ...) are not known until insert time and are
    filled in by :func:`pacsflow.crud.insert_records`.
    """

    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    image: dict[str, Any]


def _required_text(ds: Dataset, keyword: str, source: Source) -> str:
    value = element_text(ds, keyword)
    if value is None:
        raise MissingTagError(keyword, _REQUIRED_TAGS[keyword], source)
    return value


def _required_uid(ds: Dataset, keyword: str, source: Source) -> str:
    value = _required_text(ds, keyword, source)
    if not is_valid_uid(value):
        raise InvalidTagError(
            keyword,
            _REQUIRED_TAGS[keyword],
            source,
            f"{value[:80]!r} is not a valid UID (digits and dots, at most 64 characters)",
        )
    return value


def _optional_uid(ds: Dataset, keyword: str) -> str | None:
    value = element_text(ds, keyword)
    return value if value is not None and is_valid_uid(value) else None


def header_json(ds: Dataset) -> dict[str, Any]:
    """The dataset in the DICOM JSON model (PS3.18 Annex F) without pixel or bulk data.

    Binary values larger than 1 KiB (bulk data) are left without a value: the
    element stays, with its VR, so a reader knows it existed. Elements that
    cannot be encoded (malformed values) are left out rather than failing the file.
    """
    omitted: list[DataElement] = []

    def _omit(element: DataElement) -> str:
        omitted.append(element)
        return _BULK_PLACEHOLDER

    header = ds.to_json_dict(
        bulk_data_threshold=1024, bulk_data_element_handler=_omit, suppress_invalid_tags=True
    )
    for tag in _PIXEL_TAGS:
        header.pop(tag, None)
    if omitted:
        _drop_bulk_uris(header)
    return header


def _drop_bulk_uris(node: dict[str, Any]) -> None:
    for element in node.values():
        element.pop("BulkDataURI", None)
        if element.get("vr") == "SQ":
            for item in element.get("Value", ()):
                _drop_bulk_uris(item)


def _patient_row(ds: Dataset, institution: str | None, source: Source) -> dict[str, Any]:
    return {
        "patient_id": _required_text(ds, "PatientID", source),
        "patient_name": person_name(ds),
        "patient_birth_date": parse_da(ds.get("PatientBirthDate")),
        "institution": institution,
    }


def _study_row(ds: Dataset, source: Source) -> dict[str, Any]:
    return {
        "study_uid": _required_uid(ds, "StudyInstanceUID", source),
        "study_date": parse_da(ds.get("StudyDate")),
        "patient_age": age_to_years(ds.get("PatientAge")),
        "accession_number": element_text(ds, "AccessionNumber"),
    }


def _series_row(ds: Dataset, source: Source) -> dict[str, Any]:
    return {
        "series_uid": _required_uid(ds, "SeriesInstanceUID", source),
        "modality": element_text(ds, "Modality"),
    }


def dcm2records(
    ds: Dataset, *, institution: str | None = None, filepath: Source = None
) -> ImageRecord:
    """Convert one instance into the rows of the patients, studies, series and images tables.

    Args:
        ds: the instance's header (pixel data, if present, is ignored).
        institution: stored in ``patients.institution`` and ``images.institution``.
        filepath: where the instance lives, stored in ``images.filepath``.

    Raises:
        MissingTagError: PatientID, StudyInstanceUID, SeriesInstanceUID or
            SOPInstanceUID is missing or empty.
        InvalidTagError: one of those UIDs is not a valid UID.
    """
    path = fspath(filepath) if filepath is not None else None
    patient = _patient_row(ds, institution, path)
    study = _study_row(ds, path)
    series = _series_row(ds, path)
    image = {
        "institution": institution,
        "patient_id": patient["patient_id"],
        "patient_name": patient["patient_name"],
        "study_uid": study["study_uid"],
        "study_date": study["study_date"],
        "series_uid": series["series_uid"],
        "modality": series["modality"],
        "sop_class_uid": _optional_uid(ds, "SOPClassUID"),
        "image_uid": _required_uid(ds, "SOPInstanceUID", path),
        "acquisition_time": parse_tm(ds.get("AcquisitionTime")),
        "manufacturer": element_text(ds, "Manufacturer"),
        "manufacturer_model_name": element_text(ds, "ManufacturerModelName"),
        "meta": header_json(ds),
        "filepath": path,
    }
    return ImageRecord(patient=patient, study=study, series=series, image=image)


def study_finding_row(ds: Dataset) -> dict[str, Any]:
    """The ``studies_find`` row for one C-FIND answer (study level).

    Raises:
        MissingTagError / InvalidTagError: StudyInstanceUID is missing or invalid.
    """
    return {
        "patient_name": person_name(ds),
        "patient_id": element_text(ds, "PatientID"),
        "study_uid": _required_uid(ds, "StudyInstanceUID", None),
        "study_date": parse_da(ds.get("StudyDate")),
        "accession_number": element_text(ds, "AccessionNumber"),
        "expected_instances": parse_int(ds.get("NumberOfStudyRelatedInstances")),
    }


# --- The seed's API: unsaved ORM models ---------------------------------------


def dcm2patient(dcm: Dataset, institution: str | None = None) -> Patient:
    """Convert a dataset into an unsaved :class:`Patient` (seed API)."""
    return Patient(**_patient_row(dcm, institution, None))


def dcm2study(dcm: Dataset) -> Study:
    """Convert a dataset into an unsaved :class:`Study` (seed API)."""
    return Study(**_study_row(dcm, None))


def dcm2series(dcm: Dataset) -> Series:
    """Convert a dataset into an unsaved :class:`Series` (seed API)."""
    return Series(**_series_row(dcm, None))


def dcm2image(dcm: Dataset, institution: str | None = None, filepath: Source = None) -> Image:
    """Convert a dataset into an unsaved :class:`Image` with its header JSON (seed API)."""
    return Image(**dcm2records(dcm, institution=institution, filepath=filepath).image)


def dcm2study_finding(dcm: Dataset) -> StudyFind:
    """Convert a C-FIND answer into an unsaved :class:`StudyFind` (seed API)."""
    return StudyFind(**study_finding_row(dcm))


def dcm2dbmodels(
    dcm: str | PathLike[str] | Dataset,
    institution: str | None = None,
    filepath: Source = None,
) -> tuple[Patient, Study, Series, Image]:
    """Convert a file or dataset into unsaved (Patient, Study, Series, Image) models (seed API).

    When ``dcm`` is a path, its header is read and ``filepath`` is set to it.

    Raises:
        InvalidDicomError: ``dcm`` is a path to something that is not readable DICOM.
        MissingTagError / InvalidTagError: a required identifier is missing or invalid.
    """
    if not isinstance(dcm, Dataset):
        filepath = dcm
        dcm = read_header(dcm)
    record = dcm2records(dcm, institution=institution, filepath=filepath)
    return (
        Patient(**record.patient),
        Study(**record.study),
        Series(**record.series),
        Image(**record.image),
    )
