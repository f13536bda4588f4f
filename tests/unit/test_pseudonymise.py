"""The pseudonymiser's rules on one dataset, and the key's handling (no database, no Prefect)."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from pacsflow.demo.synthetic import make_dataset, write_dataset
from pacsflow.dicom.reading import read_header_and_pixel_offset
from pacsflow.export.layout import prepare_destination
from pacsflow.export.pseudonym_key import (
    MissingPseudonymKeyError,
    PseudonymKey,
    require_key,
)
from pacsflow.export.pseudonymise import Pseudonymiser, PseudonymProfile, needs_pixel_review
from pacsflow.export.pseudonymised_files import write_pseudonymised

SECRET = "unit-test-key-0123456789"  # noqa: S105 - a test key


def _pseudonymised(ds: Dataset, **profile: bool) -> Dataset:
    Pseudonymiser(PseudonymKey(SECRET), PseudonymProfile(**profile)).pseudonymise(ds)
    return ds


def test_the_key_never_shows_and_a_short_or_missing_one_is_refused() -> None:
    key = PseudonymKey(SECRET)
    assert SECRET not in repr(key)
    assert SECRET not in repr(PseudonymProfile().settings(key))
    # Worker processes get the key pickled; our own bytes, not untrusted data.
    assert pickle.loads(pickle.dumps(key)).fingerprint == key.fingerprint  # noqa: S301
    with pytest.raises(MissingPseudonymKeyError, match="at least 16"):
        PseudonymKey("too short")
    with pytest.raises(MissingPseudonymKeyError, match="needs a secret key: set KEY; keep it"):
        require_key(None, "set KEY")
    with pytest.raises(MissingPseudonymKeyError, match="needs a secret key"):
        require_key("  ", "set KEY")


def test_uids_are_replaced_at_every_depth_and_standard_uids_are_kept() -> None:
    original = make_dataset()
    reference = Dataset()
    reference.ReferencedSOPClassUID = original.SOPClassUID
    reference.ReferencedSOPInstanceUID = original.SOPInstanceUID
    reference.add_new(0x00291001, "LO", "private in an item")  # no creator: still private
    code = Dataset()
    code.CodingSchemeUID = "1.2.840.10008.2.16.4"  # DCM: a well-known UID
    code.CodeValue = "113100"
    holder = make_dataset(SOPInstanceUID="1.2.3.4.5")
    holder.ReferencedImageSequence = Sequence([reference])
    holder.ConceptNameCodeSequence = Sequence([code])
    sop = original.SOPInstanceUID
    _pseudonymised(holder)
    item = holder.ReferencedImageSequence[0]
    p = Pseudonymiser(PseudonymKey(SECRET), PseudonymProfile())
    assert item.ReferencedSOPInstanceUID == p.uid(sop) != sop
    assert item.ReferencedSOPClassUID == original.SOPClassUID
    assert 0x00291001 not in item
    assert holder.ConceptNameCodeSequence[0].CodingSchemeUID == "1.2.840.10008.2.16.4"
    assert holder.SOPInstanceUID == p.uid("1.2.3.4.5")
    assert len(holder.SOPInstanceUID) <= 64


def test_dates_move_by_whole_weeks_and_a_malformed_one_is_emptied() -> None:
    ds = _pseudonymised(make_dataset(StudyDate="20240110", SeriesDate="2024-01-10"))
    assert ds.SeriesDate == "", "not a DICOM date: emptied, never kept"
    assert ds.StudyTime == "101000"

    moved = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    shift = dt.date(2024, 1, 10) - moved
    assert shift.days % 7 == 0
    assert 364 <= shift.days <= 3654


def test_characteristics_are_an_option_and_pixel_text_is_flagged() -> None:
    basic = _pseudonymised(make_dataset(PatientWeight="70", PatientSize="1.8"))
    assert "PatientAge" not in basic
    assert "PatientWeight" not in basic
    assert not basic.PatientSex, "emptied (Z)"
    kept = _pseudonymised(make_dataset(PatientWeight="70"), retain_patient_characteristics=True)
    assert (kept.PatientAge, kept.PatientWeight, kept.PatientSex) == ("054Y", "70", "O")
    assert needs_pixel_review(make_dataset(Modality="US"))
    assert not needs_pixel_review(make_dataset(Modality="US", BurnedInAnnotation="NO"))
    assert needs_pixel_review(make_dataset(Modality="CT", BurnedInAnnotation="YES"))
    assert not needs_pixel_review(make_dataset(Modality="CT"))


@pytest.mark.parametrize(
    ("name", "copied_as_bytes"),
    [
        ("MR_small_implicit.dcm", True),
        ("JPEG2000.dcm", True),  # encapsulated fragments
        ("CT_small.dcm", False),  # trailing padding after the pixels: rewritten whole
        ("MR_small_RLE.dcm", False),
    ],
)
def test_pixel_data_is_kept_whatever_its_encoding(
    name: str, copied_as_bytes: bool, tmp_path: Path
) -> None:
    source = Path(get_testdata_file(name))  # type: ignore[arg-type]
    _, rest = read_header_and_pixel_offset(source)
    assert (rest is not None) == copied_as_bytes
    p = Pseudonymiser(PseudonymKey(SECRET), PseudonymProfile())
    prepare_destination(tmp_path)
    written = write_pseudonymised(source, tmp_path / "out.dcm", tmp_path, p)
    assert written is not None
    original, copy = pydicom.dcmread(source), pydicom.dcmread(tmp_path / "out.dcm")
    assert copy.PixelData == original.PixelData
    assert copy.SOPInstanceUID == p.uid(original.SOPInstanceUID)
    assert copy.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


def test_anything_after_the_pixel_data_makes_the_whole_file_go_through_the_rules(
    tmp_path: Path,
) -> None:
    ds = make_dataset()
    ds.add_new(0x7FE10010, "LO", "VENDOR")  # a private block after the pixel data
    ds.add_new(0x7FE11001, "LO", "MARKAFTERPIXELS")
    source = write_dataset(ds, tmp_path / "in.dcm")
    assert read_header_and_pixel_offset(source)[1] is None
    p = Pseudonymiser(PseudonymKey(SECRET), PseudonymProfile())
    prepare_destination(tmp_path)
    write_pseudonymised(source, tmp_path / "out.dcm", tmp_path, p)
    out = (tmp_path / "out.dcm").read_bytes()
    assert b"MARKAFTERPIXELS" not in out
    assert pydicom.dcmread(tmp_path / "out.dcm").PixelData == ds.PixelData


def test_free_text_in_a_replaced_sequence_is_replaced_and_coded_terms_are_kept() -> None:
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "121071", "DCM"
    concept.CodeMeaning = "Finding"
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = Sequence([concept])
    item.TextValue = "Seen by Dr Markerdoc, patient Zoe Marker"
    ds = make_dataset()
    ds.ContentSequence = Sequence([item])  # D in the table: its free text is replaced
    _pseudonymised(ds)
    cleaned = ds.ContentSequence[0]
    assert "Marker" not in cleaned.TextValue
    assert (cleaned.RelationshipType, cleaned.ValueType) == ("CONTAINS", "TEXT")
    assert cleaned.ConceptNameCodeSequence[0].CodeMeaning == "Finding"
