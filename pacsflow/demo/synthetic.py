"""Synthetic DICOM data: plain functions with fresh UIDs by default.

Used by the demo, the benchmarks and the tests; the data is invented, so it
may be logged and shared freely.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import pydicom.data
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = [
    "dataset_bytes",
    "make_dataset",
    "make_find_answer",
    "make_realistic_ct",
    "make_study",
    "write_dataset",
    "write_synthetic_folder",
]

_CT_SMALL = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"


def make_dataset(**overrides: Any) -> Dataset:
    """A CT instance header with realistic content; keyword arguments replace elements.

    An override of ``None`` deletes that element (to build incomplete data).
    """
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyDate = "20240115"
    ds.SeriesDate = "20240115"
    ds.AcquisitionTime = "101530.250"
    ds.StudyTime = "101000"
    ds.AccessionNumber = "ACC0001"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME Medical"
    ds.ManufacturerModelName = "Scanner 3000"
    ds.InstitutionName = "General Hospital"
    ds.ReferringPhysicianName = "Doe^Jane"
    ds.StudyDescription = "CT CHEST"
    ds.SeriesDescription = "AXIAL 1.25mm"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "PID0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.PatientAge = "054Y"
    ds.SliceThickness = "1.25"
    ds.KVP = "120"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyID = "1"
    ds.SeriesNumber = "1"
    ds.InstanceNumber = "1"
    ds.ImagePositionPatient = ["-250.0", "-250.0", "-100.0"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = generate_uid()
    ds.Rows = 16
    ds.Columns = 16
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.PixelData = bytes(16 * 16 * 2)
    for keyword, value in overrides.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def make_study(n_series: int = 1, n_images: int = 2, **overrides: Any) -> list[Dataset]:
    """The instances of one study: ``n_series`` series of ``n_images`` each."""
    study = {"StudyInstanceUID": generate_uid(), **overrides}
    datasets = []
    for series_number in range(1, n_series + 1):
        series_uid = generate_uid()
        for instance_number in range(1, n_images + 1):
            datasets.append(
                make_dataset(
                    **{
                        "SeriesInstanceUID": series_uid,
                        "SeriesNumber": str(series_number),
                        "InstanceNumber": str(instance_number),
                        **study,
                    }
                )
            )
    return datasets


def dataset_bytes(ds: Dataset) -> bytes:
    """``ds`` as the bytes of a DICOM Part 10 file (preamble, meta header), explicit VR LE."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", CTImageStorage)
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", generate_uid())
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def write_dataset(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (preamble, meta header) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dataset_bytes(ds))
    return path


def make_find_answer(study_uid: str, study_date: str = "20240101", **overrides: Any) -> Dataset:
    """A study-level C-FIND answer as a PACS returns it; keyword arguments add elements."""
    elements = {
        "QueryRetrieveLevel": "STUDY",
        "StudyInstanceUID": study_uid,
        "StudyDate": study_date,
        "PatientID": "P1",
        "PatientName": "Doe^John",
        **overrides,
    }
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def write_synthetic_folder(
    root: Path, *, n_studies: int, series_per_study: int = 2, images_per_series: int = 10
) -> int:
    """Write ``n_studies`` synthetic CT studies under ``root/<study>/<series>/``; return the count.

    Studies are spread over patients (three studies each) and over the days of
    January 2024, so that date-range queries have something to split.
    """
    written = 0
    for s in range(n_studies):
        day = 1 + s % 28
        study = make_study(
            n_series=series_per_study,
            n_images=images_per_series,
            PatientID=f"SYN{s // 3:05d}",
            PatientName=f"Synthetic^Patient{s // 3:05d}",
            StudyDate=f"202401{day:02d}",
            AccessionNumber=f"ACC{s:06d}",
        )
        for ds in study:
            folder = root / ds.StudyInstanceUID / ds.SeriesInstanceUID
            write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm")
            written += 1
    return written


@functools.cache
def _ct_template() -> bytes:
    return _CT_SMALL.read_bytes()


def make_realistic_ct(**overrides: Any) -> Dataset:
    """A CT header of realistic size (~250 elements, private tags, sequences).

    Built on the header of pydicom's shipped ``CT_small.dcm`` (a real scanner's
    header) with fresh UIDs and a tiny pixel matrix, so that benchmarks parse
    what a PACS sends without filling the disk with pixels.
    """
    # Parsing the cached bytes is ten times faster than deep-copying a dataset.
    ds = dcmread(io.BytesIO(_ct_template()), stop_before_pixels=True)
    del ds.file_meta
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Rows = 16
    ds.Columns = 16
    ds.add_new(0x7FE00010, "OW", bytes(16 * 16 * 2))  # PixelData, VR resolved for writing
    for keyword, value in overrides.items():
        setattr(ds, keyword, value)
    return ds
