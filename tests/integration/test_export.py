"""The ``export`` flow and command: a plain copy of selected studies (files, tables, manifest)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from flows.export import export_flow
from pacsflow.database.engine import make_engine
from pacsflow.database.models import Cohort, CohortItem, CohortStudy, StudyFind
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.export.layout import PARTIAL
from pacsflow.export.manifest import read_manifest
from pacsflow.export.selection import ExportSelection, UnknownCohortError
from pacsflow.ingest.folder_ingest import ingest_folder
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("prefect_api_url")

MARKER_NAME = "Zoë^Exportmarker"

Ingested = tuple[str, list[list[Dataset]], Path]
"""The database URL, the studies stored in it (their data sets) and the folder they came from."""


def _studies() -> list[list[Dataset]]:
    """Three studies of one patient: two CT (January, March 2024), one MR (February)."""
    common = {"PatientID": "EXPORT-PID-1", "PatientName": MARKER_NAME}
    return [
        make_study(n_series=2, n_images=3, StudyDate="20240110", Modality="CT", **common),
        make_study(n_series=1, n_images=2, StudyDate="20240215", Modality="MR", **common),
        make_study(n_series=1, n_images=4, StudyDate="20240320", Modality="CT", **common),
    ]


@pytest.fixture
def ingested(db_url: str, tmp_path: Path) -> Ingested:
    studies = _studies()
    source = tmp_path / "source"
    for study in studies:
        for ds in study:
            write_dataset(ds, source / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm")
    engine = make_engine(db_url)
    try:
        ingest_folder(engine, source, institution="EXPORT")
    finally:
        engine.dispose()
    return db_url, studies, source


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def test_a_date_range_exports_files_tables_and_a_manifest_then_a_rerun_copies_nothing(
    ingested: Ingested,
    tmp_path: Path,
) -> None:
    db_url, studies, source = ingested
    dest = tmp_path / "export"
    selection = ExportSelection(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 29))
    first = export_flow(dest=str(dest), selection=selection, db_url=db_url)
    chosen = studies[:2]
    n_files = sum(len(study) for study in chosen)
    assert (first.studies, first.files_copied, first.files_kept) == (2, n_files, 0)
    assert first.files_missing == 0
    assert first.rows == {"patients": 1, "studies": 2, "series": 3, "images": n_files}

    exported = sorted(p for p in (dest / "files").rglob("*") if p.is_file())
    expected = sorted(
        dest / "files" / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        for study in chosen
        for ds in study
    )
    assert exported == expected
    for path in exported:
        original = source / path.parent.parent.name / path.name
        assert path.read_bytes() == original.read_bytes()

    images = _csv_rows(dest / "tables" / "images.csv")
    assert {row["filepath"] for row in images} == {str(p.relative_to(dest)) for p in expected}, (
        "image rows name their exported file"
    )
    assert {row["study_uid"] for row in _csv_rows(dest / "tables" / "studies.csv")} == {
        study[0].StudyInstanceUID for study in chosen
    }
    assert json.loads(images[0]["meta"])["00100010"]  # the header JSON, as JSON

    manifest = read_manifest(dest)
    assert manifest["profile"] == "plain"
    assert manifest["selection"] == {
        "cohort": None, "from": "2024-01-01", "to": "2024-02-29", "modalities": []
    }  # fmt: skip
    assert manifest["counts"]["files_copied"] == n_files
    text = (dest / "manifest.json").read_text(encoding="utf-8")
    assert "Exportmarker" not in text, "no patient data"
    assert "EXPORT-PID-1" not in text
    assert not (dest / PARTIAL).exists(), "a finished export leaves no .partial folder"

    times = {p: p.stat().st_mtime_ns for p in exported}
    again = export_flow(dest=str(dest), selection=selection, db_url=db_url)
    assert (again.files_copied, again.files_kept) == (0, n_files)
    assert {p: p.stat().st_mtime_ns for p in exported} == times, "nothing rewritten"


def test_modality_and_cohort_select_and_an_unreadable_source_is_reported(
    ingested: Ingested,
    tmp_path: Path,
) -> None:
    db_url, studies, source = ingested
    mr = export_flow(dest=str(tmp_path / "mr"), selection=ExportSelection(modalities=("mr",)),
                     db_url=db_url)  # fmt: skip
    assert (mr.studies, mr.files_copied) == (1, len(studies[1]))

    engine = create_engine(db_url)
    with Session(engine) as session, session.begin():
        cohort = Cohort(name="export-test")
        session.add(cohort)
        session.flush()
        item = CohortItem(cohort_id=cohort.id, row_number=1, study_uid="x")
        found = StudyFind(study_uid=studies[2][0].StudyInstanceUID)
        session.add_all([item, found])
        session.flush()
        session.add(CohortStudy(cohort_item_id=item.id, study_find_id=found.id))
    engine.dispose()
    lost = studies[2][0]
    os.remove(source / lost.StudyInstanceUID / f"{lost.SOPInstanceUID}.dcm")
    dest = tmp_path / "cohort"
    # A partial file of a dead export of this host is cleared; a live one's stays.
    (dest / PARTIAL).mkdir(parents=True)
    dead = dest / PARTIAL / f"{os.uname().nodename}:999999999:0.part"
    live = dest / PARTIAL / f"{os.uname().nodename}:{os.getpid()}:live.part"
    dead.write_bytes(b"x")
    live.write_bytes(b"x")
    result = export_flow(dest=str(dest), selection=ExportSelection(cohort="export-test"),
                         db_url=db_url)  # fmt: skip
    assert (result.studies, result.files_copied) == (1, len(studies[2]) - 1)
    assert result.files_missing == 1
    assert not dead.exists()
    assert live.exists()
    assert not (dest / "files" / lost.StudyInstanceUID / lost.SeriesInstanceUID
                / f"{lost.SOPInstanceUID}.dcm").exists()  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_export_command(
    ingested: Ingested,
    run_cli: RunCli,
    tmp_path: Path,
) -> None:
    db_url, studies, _source = ingested
    dest = tmp_path / "cli-export"
    done = run_cli("--db", db_url, "export", str(dest), "--from", "2024-03-01", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["studies"], result["files_copied"]) == (1, len(studies[2]))
    assert MARKER_NAME not in done.stdout + done.stderr
    bad = run_cli("--db", db_url, "export", str(dest), "--from", "2024-03-01", "--to", "2024-01-01")
    assert bad.returncode == 2
    assert "before the start date" in bad.stderr
    unknown = run_cli("--db", db_url, "export", str(dest), "--cohort", "nope")
    assert unknown.returncode == 2
    assert "no cohort named 'nope'" in unknown.stderr


def test_an_unknown_cohort_or_a_selection_of_no_study_writes_nothing(
    ingested: Ingested,
    tmp_path: Path,
) -> None:
    db_url, _studies, _source = ingested
    dest = tmp_path / "none"
    with pytest.raises(UnknownCohortError, match="no cohort named 'nosuch'"):
        export_flow(dest=str(dest), selection=ExportSelection(cohort="nosuch"), db_url=db_url)
    assert not dest.exists()
    nothing = export_flow(dest=str(dest), selection=ExportSelection(modalities=("XA",)),
                          db_url=db_url)  # fmt: skip
    assert (nothing.studies, nothing.files_copied, nothing.manifest) == (0, 0, None)
    assert nothing.rows == {"patients": 0, "studies": 0, "series": 0, "images": 0}
    assert not dest.exists()

    export_flow(dest=str(dest), selection=ExportSelection(modalities=("MR",)), db_url=db_url)
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    export_flow(dest=str(dest), selection=ExportSelection(modalities=("XA",)), db_url=db_url)
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == before, "left as it was"
