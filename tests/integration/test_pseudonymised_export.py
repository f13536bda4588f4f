"""``pacsflow export --pseudonymise``: no patient data under DEST; keyed, consistent pseudonyms."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pydicom
import pytest
from prefect.blocks.system import Secret
from pydantic import SecretStr
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from flows.config import KEY_ENV
from flows.export import export_flow
from flows.options import Pseudonymisation
from pacsflow.database.engine import make_engine
from pacsflow.database.models import Pseudonym
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.export.manifest import ExportMismatchError, read_manifest
from pacsflow.ingest.folder_ingest import ingest_folder
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("prefect_api_url")

KEY = "a-research-export-key-of-2026"
OTHER_KEY = "another-key-for-another-team"
MARKERS = [
    b"Pseudom",  # the name's ASCII part, whatever its encoding
    "Zoë".encode("latin-1"),
    "Zoë".encode(),
    b"MARKPID",
    b"MARKACC",
    b"19610307",
    b"1961-03-07",
    b"Markerklinik",
    b"Markerdoc",
    b"Markerpatient",
    b"MARKPRIV",
    b"MARKER-INSTITUTE",
    KEY.encode(),
]


def _patient_a(**extra: Any) -> dict[str, Any]:
    return {
        "PatientName": "Zoë^Pseudomärker",
        "PatientID": "MARKPID4711",
        "PatientBirthDate": "19610307",
        "InstitutionName": "Markerklinik Nord",
        "ReferringPhysicianName": "Markerdoc^Anna",
        "StudyDescription": "CT for Markerpatient",
        **extra,
    }


def _studies() -> list[list[Dataset]]:
    """Patient A: CT on 2024-01-10 (2 series x 2) and 2024-03-20 (1 x 2, the second
    instance referencing the first); patient B: US on 2024-02-01 (pixels may hold text)."""
    first = make_study(2, 2, StudyDate="20240110", AccessionNumber="MARKACC1", **_patient_a())
    second = make_study(1, 2, StudyDate="20240320", AccessionNumber="MARKACC2", **_patient_a())
    item = Dataset()
    item.ReferencedSOPClassUID = second[0].SOPClassUID
    item.ReferencedSOPInstanceUID = second[0].SOPInstanceUID
    second[1].ReferencedImageSequence = Sequence([item])
    us = make_study(
        1, 2, StudyDate="20240201", Modality="US", PatientID="MARKPID0002",
        PatientName="Other^Markerpatient", AccessionNumber="MARKACC3",
    )  # fmt: skip
    for ds in (*first, *second, *us):
        block = ds.private_block(0x0029, "MARKER CORP", create=True)
        block.add_new(0x01, "LO", "MARKPRIV value")
    return [first, second, us]


def _uids(studies: list[list[Dataset]]) -> set[bytes]:
    keywords = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
    return {ds.get(k).encode() for study in studies for ds in study for k in keywords}


@pytest.fixture
def marked(db_url: str, tmp_path: Path) -> tuple[str, list[list[Dataset]]]:
    studies = _studies()
    for study in studies:
        for ds in study:
            name = f"{ds.StudyInstanceUID}/{ds.SOPInstanceUID}.dcm"
            write_dataset(ds, tmp_path / "source" / name)
    engine = make_engine(db_url)
    try:
        ingest_folder(engine, tmp_path / "source", institution="MARKER-INSTITUTE")
    finally:
        engine.dispose()
    return db_url, studies


def _files(dest: Path) -> list[Path]:
    return sorted(p for p in (dest / "files").rglob("*.dcm"))


def _iod_errors(path: Path) -> set[str]:
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    lines = (checked.stdout + checked.stderr).splitlines()
    assert any(line.strip() == "CTImage" for line in lines), lines  # it did check the IOD
    return {line for line in lines if line.startswith("Error")}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def test_a_pseudonymised_export_holds_no_patient_data_in_any_byte(
    marked: tuple[str, list[list[Dataset]]], tmp_path: Path, run_cli: RunCli
) -> None:
    db_url, studies = marked
    dest = tmp_path / "research"
    done = run_cli("--db", db_url, "export", str(dest), "--pseudonymise", "--json",
                   **{KEY_ENV: KEY})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert (result["studies"], result["files_copied"], result["files_missing"]) == (3, 8, 0)
    assert result["rows"] == {"patients": 2, "studies": 3, "series": 4, "images": 8}

    forbidden = MARKERS + sorted(_uids(studies))
    everything = [p for p in dest.rglob("*") if p.is_file()]
    assert len(everything) == 8 + 4 + 1, "files, tables, manifest; no rows or partial files left"
    for path in everything:
        content = path.read_bytes()
        assert [m for m in forbidden if m in content] == [], path.relative_to(dest)

    manifest = read_manifest(dest)
    settings = manifest["settings"]
    assert (manifest["profile"], manifest["complete"]) == ("pseudonymised", True)
    assert "Retain Patient Characteristics Option" not in settings["options"]
    assert len(settings["key_fingerprint"]) == 16
    us_files = {f"files/{p.parent.parent.name}/{p.parent.name}/{p.name}"
                for p in _files(dest) if pydicom.dcmread(p).Modality == "US"}  # fmt: skip
    assert set(manifest["pixel_review"]) == us_files
    assert len(us_files) == 2

    ds = pydicom.dcmread(_files(dest)[0])
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.PatientName == ds.PatientID
    assert ds.PatientID.startswith("PSN")
    assert ds.PatientBirthDate == ""
    assert "PatientAge" not in ds
    assert not ds.PatientSex
    assert "StudyDescription" not in ds, "removed by the Basic Profile"
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == [
        "113100", "113107"
    ]  # fmt: skip
    patients = _rows(dest / "tables" / "patients.csv")
    assert {row["patient_id"] for row in patients} == {
        pydicom.dcmread(p).PatientID for p in _files(dest)
    }
    # Independent checkers: DCMTK parses the files, and dicom3tools' dciodvfy finds no
    # IOD error that the source file did not have already.
    source_ct = next((tmp_path / "source").rglob("*.dcm"))
    for path in [p for p in _files(dest) if pydicom.dcmread(p).Modality == "CT"][:2]:
        dump = subprocess.run(["dcmdump", "-q", str(path)], capture_output=True, text=True)
        assert dump.returncode == 0, dump.stderr
        assert "PatientIdentityRemoved" in dump.stdout
        assert _iod_errors(path) <= _iod_errors(source_ct)

    engine = create_engine(db_url)
    with Session(engine) as session:
        kinds = dict(
            session.execute(select(Pseudonym.kind, func.count()).group_by(Pseudonym.kind)).all()
        )
        linked = session.scalar(
            select(Pseudonym.pseudonym).where(Pseudonym.original == "MARKPID4711")
        )
    engine.dispose()
    assert kinds == {"patient": 2, "accession": 3, "study": 3, "series": 4, "instance": 8}
    assert linked == ds.PatientID or linked in {r["patient_id"] for r in patients}


def test_same_key_agrees_another_key_differs_and_a_rerun_rewrites_nothing(
    marked: tuple[str, list[list[Dataset]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url, _ = marked
    monkeypatch.setenv(KEY_ENV, KEY)
    first = export_flow(
        dest=str(tmp_path / "a"), db_url=db_url, pseudonymise=Pseudonymisation(), workers=1
    )
    # The same key from a Prefect Secret block, as a deployment reads it.
    block = f"pseudonym-key-{uuid.uuid4().hex[:8]}"
    Secret(value=SecretStr(KEY)).save(block)
    monkeypatch.delenv(KEY_ENV)
    export_flow(dest=str(tmp_path / "b"), db_url=db_url, workers=1,
                pseudonymise=Pseudonymisation(key_block=block))  # fmt: skip
    monkeypatch.setenv(KEY_ENV, KEY)
    names_a = [p.relative_to(tmp_path / "a") for p in _files(tmp_path / "a")]
    assert names_a == [p.relative_to(tmp_path / "b") for p in _files(tmp_path / "b")]
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
               for n in names_a)  # fmt: skip
    assert first.files_copied == 8

    times = {p: p.stat().st_mtime_ns for p in _files(tmp_path / "a")}
    again = export_flow(
        dest=str(tmp_path / "a"), db_url=db_url, pseudonymise=Pseudonymisation(), workers=1
    )
    assert (again.files_copied, again.files_kept) == (0, 8)
    assert {p: p.stat().st_mtime_ns for p in _files(tmp_path / "a")} == times
    assert again.rows == first.rows

    monkeypatch.setenv(KEY_ENV, OTHER_KEY)
    export_flow(dest=str(tmp_path / "c"), db_url=db_url, pseudonymise=Pseudonymisation(), workers=1)
    names_c = {p.relative_to(tmp_path / "c") for p in _files(tmp_path / "c")}
    assert len(names_c) == 8
    assert not names_c & set(names_a), "no pseudonym in common"
    with pytest.raises(ExportMismatchError, match="key_fingerprint"):
        export_flow(
            dest=str(tmp_path / "a"), db_url=db_url, pseudonymise=Pseudonymisation(), workers=1
        )
    with pytest.raises(ExportMismatchError, match="pseudonymised"):
        export_flow(dest=str(tmp_path / "a"), db_url=db_url, workers=1)
    assert {p: p.stat().st_mtime_ns for p in _files(tmp_path / "a")} == times


def test_dates_keep_their_intervals_references_resolve_and_options_apply(
    marked: tuple[str, list[list[Dataset]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url, studies = marked
    monkeypatch.setenv(KEY_ENV, KEY)
    dest = tmp_path / "options"
    result = export_flow(dest=str(dest), db_url=db_url, workers=2, pseudonymise=Pseudonymisation(
        retain_patient_characteristics=True, exclude_burned_in=True))  # fmt: skip
    assert (result.files_copied, result.files_excluded) == (6, 2), "US left out"
    exported = [pydicom.dcmread(p) for p in _files(dest)]
    assert {ds.Modality for ds in exported} == {"CT"}
    assert len(read_manifest(dest)["excluded_burned_in"]) == 2

    dates = sorted({dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date() for ds in exported})
    assert len(dates) == 2
    assert dates[1] - dates[0] == dt.timedelta(days=70), "2024-01-10 to 2024-03-20"
    assert dates[0].weekday() == dt.date(2024, 1, 10).weekday()
    assert dt.date(2014, 1, 1) < dates[0] < dt.date(2024, 1, 10)
    assert {ds.StudyTime for ds in exported} == {studies[0][0].StudyTime}

    by_sop = {ds.SOPInstanceUID: ds for ds in exported}
    referencing = [ds for ds in exported if "ReferencedImageSequence" in ds]
    assert len(referencing) == 1
    target = by_sop[referencing[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID]
    assert target.StudyInstanceUID == referencing[0].StudyInstanceUID
    for ds in exported:
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert (ds.PatientSex, ds.PatientAge) == ("O", "054Y"), "characteristics kept"
        assert ds.PatientBirthDate == ""
        assert not any(element.tag.is_private for element in ds)

    images = _rows(dest / "tables" / "images.csv")
    assert {row["filepath"] for row in images} == {str(p.relative_to(dest)) for p in _files(dest)}
    header = json.loads(images[0]["meta"])
    assert header["00100020"]["Value"] == [exported[0].PatientID]
    shutil.rmtree(dest)


def test_a_pseudonymised_export_without_a_key_is_refused(
    marked: tuple[str, list[list[Dataset]]], tmp_path: Path, run_cli: RunCli
) -> None:
    db_url, _ = marked
    dest = tmp_path / "refused"
    no_key = run_cli("--db", db_url, "export", str(dest), "--pseudonymise", **{KEY_ENV: ""})
    assert no_key.returncode == 2, no_key.stdout + no_key.stderr
    assert KEY_ENV in no_key.stderr
    short = run_cli("--db", db_url, "export", str(dest), "--pseudonymise", **{KEY_ENV: "short"})
    assert short.returncode == 2, short.stderr
    assert "at least 16" in short.stderr
    alone = run_cli("--db", db_url, "export", str(dest), "--exclude-burned-in")
    assert alone.returncode == 2, alone.stderr
    assert "--pseudonymise" in alone.stderr
    assert not dest.exists()


def test_a_truncated_or_foreign_source_is_reported_and_never_written(
    marked: tuple[str, list[list[Dataset]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url, studies = marked
    monkeypatch.setenv(KEY_ENV, KEY)
    cut, foreign = studies[0][0], studies[0][1]
    cut_path = tmp_path / "source" / cut.StudyInstanceUID / f"{cut.SOPInstanceUID}.dcm"
    cut_path.write_bytes(cut_path.read_bytes()[:-100])  # the pixel data is cut short
    foreign_path = tmp_path / "source" / foreign.StudyInstanceUID / f"{foreign.SOPInstanceUID}.dcm"
    foreign_path.write_bytes(b"MARKPID4711 is not a DICOM file" * 10)
    dest = tmp_path / "damaged"
    result = export_flow(dest=str(dest), db_url=db_url, pseudonymise=Pseudonymisation(), workers=1)
    assert (result.files_copied, result.files_missing) == (6, 2)
    assert len(_files(dest)) == 6
    assert len(_rows(dest / "tables" / "images.csv")) == 6
    for path in dest.rglob("*"):
        if path.is_file():
            assert b"MARKPID" not in path.read_bytes(), path
