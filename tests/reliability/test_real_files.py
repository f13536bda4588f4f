"""Real files nobody on the project wrote: every one stored, skipped with a reason, or recorded.

The corpus is every file shipped by pydicom (test and character-set files,
DICOMDIR trees, dumps and JSON beside them), the pydicom-data package
(vendor CT/MR/US, enhanced multi-frame, JPEG family) and pynetdicom's test
files: ~270 files, of which ~200 DICOM instances. It goes through
``pacsflow ingest`` as a user would run it.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import data_store
import pydicom.data
import pynetdicom
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Patient
from tests.conftest import RunCli
from tests.helpers import ingest_outcome

SOURCES = {
    "pydicom": Path(pydicom.data.__file__).parent,
    "pydicom-data": Path(data_store.__file__).parent / "data",
    "pynetdicom": Path(pynetdicom.__file__).parent / "tests" / "dicom_files",
}
# Not DICOM at all: notes, READMEs, JSON, dumps, an ICC profile, a gzip archive.
NOT_DICOM_SUFFIXES = {".txt", ".md", ".json", ".dump", ".icc", ".gz", ""}
# Damaged on purpose by pydicom (cut short), or a bare data set that starts in group 0002.
BROKEN = {"MR_truncated.dcm", "rtplan_truncated.dcm", "no_meta.dcm"}


def _corpus(root: Path) -> Path:
    for name, source in SOURCES.items():
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


@pytest.mark.integration
def test_every_real_file_is_stored_skipped_or_recorded(run_cli: RunCli, tmp_path: Path) -> None:
    root = _corpus(tmp_path / "corpus")
    files = [p for p in root.rglob("*") if p.is_file()]
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"

    result = run_cli("--db", url, "ingest", str(root), "--json", "--no-progress")
    assert result.returncode == 1, result.stderr  # the non-DICOM files fail; nothing crashes
    counts = json.loads(result.stdout)
    assert counts["files_seen"] == len(files)

    failed, stored = ingest_outcome(url)
    engine = make_engine(url)
    with Session(engine) as session:
        stand_ins = session.scalars(select(Patient).where(Patient.patient_id_missing)).all()
    engine.dispose()

    # Every file is accounted for, once.
    assert (
        len(stored) + counts["already_present"] + counts["skipped"] + len(failed)
        == counts["files_seen"]
    )
    assert counts["skipped_by_reason"] == {"DICOMDIR": counts["skipped"]}
    assert counts["skipped"] == sum(1 for p in files if p.name.startswith("DICOMDIR"))
    assert counts["images_added"] >= 150
    # No valid instance is refused for lacking a PatientID (Type 2): those are stored.
    assert stand_ins, "the corpus has instances without a PatientID"
    assert all(p.patient_id.startswith("no-patient-id:") for p in stand_ins)
    assert not any("PatientID" in reason for _kind, reason in failed.values())
    # Each failure is a non-DICOM file, a broken one, or one without a usable StudyInstanceUID.
    kinds: Counter[str] = Counter()
    for path, (kind, reason) in failed.items():
        assert str(path) in reason, "the reason names the file"
        if path.suffix in NOT_DICOM_SUFFIXES or path.name in BROKEN:
            assert kind == "InvalidDicomError", (path, reason)
        else:
            assert "StudyInstanceUID" in reason, (path, reason)
        kinds[kind] += 1
    assert dict(kinds) == counts["failed_by_reason"]
