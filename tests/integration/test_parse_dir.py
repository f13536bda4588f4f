"""parse_dir2sql: a folder of good and bad files, re-runs, and a database without tables."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import TypeVar

import pydicom.data
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Base, Image, IngestError, Patient
from pacsflow.db import parse_dir2sql
from pacsflow.errors import PermanentError
from pacsflow.ingest.batch import default_institution
from tests.factories import make_dataset, make_study, write_dataset

M = TypeVar("M", bound=Base)

CT_SMALL = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"
DICOMDIR = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests" / "DICOMDIR"


def _folder(root: Path) -> Path:
    for i, ds in enumerate(make_study(n_series=2, n_images=5)):
        write_dataset(ds, root / "study" / f"{i:03d}.dcm")
    shutil.copy(CT_SMALL, root / "ct_small.dcm")
    (root / "notes.txt").write_text("not DICOM")
    write_dataset(make_dataset(PatientID=None), root / "no_pid.dcm")
    whole = write_dataset(make_dataset(), root / "whole.dcm").read_bytes()
    (root / "whole.dcm").unlink()
    (root / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    shutil.copy(DICOMDIR, root / "DICOMDIR")
    shutil.copy(DICOMDIR, root / "media-index.dcm")  # a DICOMDIR by content, not by name
    return root


def _rows(url: str, model: type[M]) -> list[M]:
    """Every row of ``model``'s table, loaded and detached."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = list(session.scalars(select(model)))
    engine.dispose()
    return rows


def _errors(url: str) -> list[IngestError]:
    return _rows(url, IngestError)


def _images(url: str) -> list[Image]:
    return _rows(url, Image)


def test_parse_dir2sql_stores_good_files_and_reports_bad_ones(db_url: str, tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    summary = parse_dir2sql(src, db_url, institution_name="Hosp")
    assert summary.files_seen == 16
    assert summary.images_added == 12
    assert summary.failed == 2
    assert summary.failed_by_reason == {"InvalidDicomError": 2}
    assert (summary.skipped, summary.skipped_by_reason) == (2, {"DICOMDIR": 2})
    failed = {Path(e.path).name: e for e in _errors(db_url)}
    assert set(failed) == {"notes.txt", "cut.dcm"}
    assert "not a DICOM file" in failed["notes.txt"].reason
    assert "truncated" in failed["cut.dcm"].reason
    images = _images(db_url)
    assert len(images) == 12
    assert str(src / "no_pid.dcm") in {i.filepath for i in images}
    assert {i.institution for i in images} == {"Hosp"}
    # Headers travel as JSON text through batch ingest; they come back as documents.
    assert all(i.meta is not None and i.meta["00080060"]["Value"] == ["CT"] for i in images)
    assert all(i.filepath and Path(i.filepath).is_file() for i in images)


def test_parse_dir2sql_twice_adds_nothing_and_skips_unchanged_files(
    db_url: str, tmp_path: Path
) -> None:
    src = _folder(tmp_path / "src")
    parse_dir2sql(src, db_url)
    again = parse_dir2sql(src, db_url)
    assert again.images_added == 0
    assert again.unchanged == 12  # skipped unparsed: same path, size and mtime
    assert again.already_present == 0
    assert again.failed == 2  # bad files are tried (and recorded) again
    assert again.skipped == 2
    assert len(_images(db_url)) == 12


def test_a_copied_file_is_parsed_but_not_stored_twice(db_url: str, tmp_path: Path) -> None:
    write_dataset(make_dataset(), tmp_path / "src" / "a.dcm")
    parse_dir2sql(tmp_path / "src", db_url)
    shutil.copy(tmp_path / "src" / "a.dcm", tmp_path / "src" / "copy.dcm")
    again = parse_dir2sql(tmp_path / "src", db_url)
    assert (again.unchanged, again.already_present, again.images_added) == (1, 1, 0)


def test_parse_dir2sql_defaults_institution_to_unknown_today(db_url: str, tmp_path: Path) -> None:
    write_dataset(make_dataset(), tmp_path / "src" / "a.dcm")
    parse_dir2sql(tmp_path / "src", db_url)
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert session.scalar(select(Patient.institution)) == default_institution()
    engine.dispose()
    assert default_institution(date(2024, 5, 6)) == "unknown_20240506"


def test_parse_dir2sql_without_tables_fails_clearly(empty_db_url: str, tmp_path: Path) -> None:
    write_dataset(make_dataset(), tmp_path / "src" / "a.dcm")
    with pytest.raises(PermanentError, match="no pacsflow tables"):
        parse_dir2sql(tmp_path / "src", empty_db_url)


def test_parse_dir2sql_can_create_the_tables(empty_db_url: str, tmp_path: Path) -> None:
    write_dataset(make_dataset(), tmp_path / "src" / "a.dcm")
    summary = parse_dir2sql(tmp_path / "src", empty_db_url, create_tables=True)
    assert summary.images_added == 1
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Image)) == 1
    engine.dispose()


def test_parse_dir2sql_rejects_a_missing_folder(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="not a folder"):
        parse_dir2sql(tmp_path / "nope", db_url)
