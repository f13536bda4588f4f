"""The ingest-dir, init-db and dump-db flows under a real (temporary) Prefect server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pydicom.data
import pytest

from flows.dump_db import dump_db
from flows.ingest_dir import ingest_dir, parse_dir2sql
from flows.init_db import init_db
from flows.results import DatabaseSummary
from pacsflow.database.schema import head_revision
from pacsflow.demo.synthetic import make_dataset, write_dataset, write_synthetic_folder
from tests.helpers import latest_artifact, table_counts

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write_synthetic_folder(src / "synthetic", n_studies=6, series_per_study=2, images_per_series=5)
    shutil.copy(TEST_FILES / "CT_small.dcm", src / "ct_small.dcm")
    shutil.copy(TEST_FILES / "MR_truncated.dcm", src / "mr_truncated.dcm")
    (src / "readme.txt").write_text("not DICOM")
    write_dataset(make_dataset(SOPInstanceUID=None), src / "no_sop_uid.dcm")
    shutil.copy(TEST_FILES / "dicomdirtests" / "DICOMDIR", src / "DICOMDIR")
    return src


@pytest.mark.usefixtures("prefect_api_url")
def test_ingest_dir_stores_good_files_records_bad_ones_and_reruns_cleanly(
    db_url: str, mixed_folder: Path
) -> None:
    result = ingest_dir(str(mixed_folder), db_url=db_url, batch_size=16, workers=2)
    assert result.counts.files_seen == 65
    assert result.counts.images_added == 61
    assert result.counts.failed == 3
    assert result.counts.skipped_by_reason == {"DICOMDIR": 1}
    assert result.counts.failed_by_reason == {"InvalidDicomError": 2, "MissingTagError": 1}
    assert table_counts(db_url) == {
        "studies_find": 0,
        "patients": 3,
        "studies": 7,
        "series": 13,
        "images": 61,
        "ingest_errors": 3,
    }

    again = ingest_dir(str(mixed_folder), db_url=db_url, batch_size=16, workers=1)
    assert (again.counts.images_added, again.counts.unchanged, again.counts.failed) == (0, 61, 3)
    counts = table_counts(db_url)
    assert counts["images"] == 61
    assert counts["ingest_errors"] == 6  # one row per failed attempt

    summary = latest_artifact("ingest-dir-summary")
    rows = {row["metric"]: row["value"] for row in _table(summary.data)}
    assert rows["files seen"] == 65
    assert rows["skipped: DICOMDIR"] == 1
    assert rows["unchanged files skipped"] == 61
    assert rows["failed: InvalidDicomError"] == 2
    progress = latest_artifact("ingest-dir-progress")
    assert progress.data == 100.0


def _table(data: Any) -> list[dict[str, Any]]:
    import json

    parsed = json.loads(data) if isinstance(data, str) else data
    return list(parsed)


@pytest.mark.usefixtures("prefect_api_url")
def test_ingest_dir_missing_folder_fails_the_run_clearly(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="not a folder"):
        ingest_dir(str(tmp_path / "missing"), db_url=db_url)


@pytest.mark.usefixtures("prefect_api_url")
def test_ingest_dir_into_a_new_database_creates_it(empty_db_url: str, tmp_path: Path) -> None:
    write_synthetic_folder(tmp_path / "src", n_studies=1, series_per_study=1, images_per_series=3)
    result = ingest_dir(str(tmp_path / "src"), db_url=empty_db_url, workers=1)
    assert result.counts.images_added == 3


@pytest.mark.usefixtures("prefect_api_url")
def test_seed_parse_dir2sql_runs_the_flow(db_url: str, tmp_path: Path) -> None:
    write_synthetic_folder(tmp_path / "src", n_studies=2, series_per_study=1, images_per_series=2)
    result = parse_dir2sql(str(tmp_path / "src"), db_url, institution_name="H", nb_threads=2)
    assert result["images_added"] == 4


@pytest.mark.usefixtures("prefect_api_url")
def test_init_db_and_dump_db_flows(empty_db_url: str, tmp_path: Path) -> None:
    assert init_db(db_url=empty_db_url) == DatabaseSummary(head_revision(), None)
    assert init_db(db_url=empty_db_url).revision == head_revision()  # idempotent
    paths = dump_db(str(tmp_path / "csv"), db_url=empty_db_url, tables=["patients"])
    assert [Path(p).name for p in paths] == ["patients.csv"]
    with pytest.raises(ValueError, match="not a pacsflow table"):
        dump_db(str(tmp_path / "csv"), db_url=empty_db_url, tables=["nope"])
