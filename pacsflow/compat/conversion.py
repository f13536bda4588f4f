"""The seed's ``dcm2*`` functions: datasets (or files) into unsaved ORM models."""

from __future__ import annotations

from os import PathLike

from pydicom.dataset import Dataset

from pacsflow.database.models import Image, Patient, Series, Study, StudyFind
from pacsflow.dicom.reading import read_header
from pacsflow.dicom.records import (
    ImageRecord,
    dcm2records,
    patient_row_of,
    series_row_of,
    study_finding_row,
    study_row_of,
)

Source = str | PathLike[str] | None


def record_of(
    dcm: str | PathLike[str] | Dataset, institution: str | None, filepath: Source
) -> ImageRecord:
    """The rows of a dataset, or of a file path (read, and stored as ``filepath``)."""
    if not isinstance(dcm, Dataset):
        filepath = dcm
        dcm = read_header(dcm)
    return dcm2records(dcm, institution=institution, filepath=filepath)


def dcm2patient(dcm: Dataset, institution: str | None = None) -> Patient:
    """Convert a dataset into an unsaved :class:`Patient`.

    Raises:
        MissingTagError / InvalidTagError: the dataset has no PatientID and no
            valid StudyInstanceUID to key its stand-in patient by.
    """
    return Patient(**patient_row_of(dcm, institution))


def dcm2study(dcm: Dataset) -> Study:
    """Convert a dataset into an unsaved :class:`Study`."""
    return Study(**study_row_of(dcm))


def dcm2series(dcm: Dataset) -> Series:
    """Convert a dataset into an unsaved :class:`Series`."""
    return Series(**series_row_of(dcm))


def dcm2image(dcm: Dataset, institution: str | None = None, filepath: Source = None) -> Image:
    """Convert a dataset into an unsaved :class:`Image` with its header JSON."""
    return Image(**dcm2records(dcm, institution=institution, filepath=filepath).image)


def dcm2study_finding(dcm: Dataset) -> StudyFind:
    """Convert a C-FIND answer into an unsaved :class:`StudyFind`."""
    return StudyFind(**study_finding_row(dcm))


def dcm2dbmodels(
    dcm: str | PathLike[str] | Dataset,
    institution: str | None = None,
    filepath: Source = None,
) -> tuple[Patient, Study, Series, Image]:
    """Convert a file or dataset into unsaved (Patient, Study, Series, Image) models.

    When ``dcm`` is a path, its header is read and ``filepath`` is set to it.

    Raises:
        InvalidDicomError: ``dcm`` is a path to something that is not readable DICOM.
        MissingTagError / InvalidTagError: a required UID is missing or invalid.
    """
    record = record_of(dcm, institution, filepath)
    return (
        Patient(**record.patient),
        Study(**record.study),
        Series(**record.series),
        Image(**record.image),
    )
