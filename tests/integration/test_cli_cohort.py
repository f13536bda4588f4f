"""``pacsflow cohort run|status|list`` and the series filters of ``run``, as scripts use them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from tests.conftest import RunCli
from tests.helpers import found_studies, pacs_env, table_counts

pytestmark = pytest.mark.integration

SCP_PORT = free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    folder = tmp_path_factory.mktemp("cli-cohort-studies")
    ct = make_study(n_series=2, n_images=2, PatientID="CLIP1", AccessionNumber="CLIA1")
    for ds in ct:
        ds.StudyDate = "20240801"
        ds.SeriesDescription = "AXIAL" if ds.SeriesNumber == 1 else "Scout"
    mr = make_study(n_images=3, PatientID="CLIP1", AccessionNumber="CLIA2", StudyDate="20240802")
    for ds in mr:
        ds.Modality = "MR"
    server.upload_many(
        [write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes() for ds in ct + mr]
    )
    yield server
    server.stop()


@pytest.fixture
def env(orthanc: OrthancServer) -> dict[str, str]:
    return pacs_env(orthanc, SCP_PORT)


def _csv(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_cohort_run_status_and_list(run_cli: RunCli, env: dict[str, str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cohort.sqlite'}"
    request = _csv(tmp_path, "req-7.csv", "AccessionNumber\nCLIA1\nNOSUCH\n")
    run = run_cli(
        "--db", url, "cohort", "run", request, "--series-modality", "CT",
        "--exclude-series-description", "scout", "--json", **env,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr  # row 2 is not on the PACS
    result = json.loads(run.stdout)
    assert [(i["row"], i["status"], i["studies_found"]) for i in result["items"]] == [
        (1, "retrieved", 1),
        (2, "not_found", 0),
    ]
    assert (result["name"], result["images_added"]) == ("req-7", 2)  # the scout stayed
    assert table_counts(url)["images"] == 2

    status = run_cli("--db", url, "cohort", "status", "req-7", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["name"] == "req-7"
    assert [
        {k: i[k] for k in ("row", "status", "studies_found", "studies_retrieved")}
        for i in report["items"]
    ] == [
        {"row": 1, "status": "retrieved", "studies_found": 1, "studies_retrieved": 1},
        {"row": 2, "status": "not_found", "studies_found": 0, "studies_retrieved": 0},
    ]
    assert "SeriesDescription" in report["series_filter"]
    readable = run_cli("--db", url, "cohort", "status", "req-7")
    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    assert lines[0].startswith("cohort req-7: 2 items, 1 retrieved")
    assert lines[-1].split()[:4] == ["2", "not_found", "0", "0"]

    ok = _csv(tmp_path, "ok.csv", "PatientID,ModalitiesInStudy\nCLIP1,MR\n")
    again = run_cli("--db", url, "cohort", "run", ok, "--name", "mr only", **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cohort mr only: 1 items, 1 retrieved" in again.stdout
    listed = run_cli("--db", url, "cohort", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split(":")[0] for line in listed.stdout.splitlines()] == ["mr only", "req-7"]
    unknown = run_cli("--db", url, "cohort", "status", "nosuch")
    assert unknown.returncode == 2
    assert "no cohort named 'nosuch'" in unknown.stderr
    # The same name for other rows is refused, and nothing is recorded.
    other = _csv(tmp_path, "req-7b.csv", "AccessionNumber\nCLIA2\n")
    clash = run_cli("--db", url, "cohort", "run", other, "--name", "req-7", **env)
    assert clash.returncode == 2
    assert "exists with other rows" in clash.stderr
    for output in (run.stdout, run.stderr, status.stdout, readable.stdout, listed.stdout):
        assert "CLIA" not in output
        assert "CLIP" not in output


def test_bad_cohort_files_and_options_exit_2_with_one_line(
    run_cli: RunCli, env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bad.sqlite'}"
    cases = {
        _csv(tmp_path, "nokey.csv", "AccessionNumber,StudyDate\nA1,20240101\n,20240102\n"): (
            "row 2: no AccessionNumber, PatientID or StudyInstanceUID"
        ),
        _csv(tmp_path, "date.csv", "PatientID,StudyDate\nP1,01/02/2024\n"): (
            "row 1: StudyDate is not YYYYMMDD"
        ),
        _csv(tmp_path, "col.csv", "Patient Name\nP1\n"): "header: no key column",
        _csv(tmp_path, "sci.csv", "Accession Number\n1.23457E+11\n"): (
            "row 1: AccessionNumber is a number in scientific notation"
        ),
        str(tmp_path / "missing.csv"): "no such file",
    }
    for path, message in cases.items():
        done = run_cli("--db", url, "cohort", "run", path, **env)
        assert done.returncode == 2, (path, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr
    good = _csv(tmp_path, "good.csv", "PatientID\nP1\n")
    regex = run_cli("--db", url, "cohort", "run", good, "--series-description", "(", **env)
    assert regex.returncode == 2
    assert "not a regular expression" in regex.stderr
    assert not (tmp_path / "bad.sqlite").exists(), "nothing ran before the checks"


def test_run_applies_series_filters_to_a_date_range(
    run_cli: RunCli, env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'range.sqlite'}"
    run = run_cli(
        "--db", url, "run", "2024-08-01", "2024-08-02", "--series-modality", "MR", "--json", **env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert (result["studies_complete"], result["studies_no_matching_series"]) == (1, 1)
    assert result["images_added"] == 3
    rows = found_studies(url).values()
    assert sorted((r.selected_series, r.retrieved_on is not None) for r in rows) == [
        (0, True),
        (1, True),
    ]


def test_a_cohort_saved_by_excel_runs_and_a_repeated_row_is_counted_once(
    run_cli: RunCli, env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'excel.sqlite'}"
    rows = [
        "Accession Number;Patient Name;Patient-ID;Study Date;Notes;;",
        '"CLIA1";"DOE^JOHN";CLIP1;;"first; CT";;',
        "CLIA2;DOE^JOHN;;2024-08-02;;;",
        "CLIA1;DOE^JOHN;CLIP1;;again;;",  # row 3 repeats row 1
        ";;;;;;",  # rows Excel leaves after the data
    ]
    path = tmp_path / "excel.csv"
    path.write_bytes("\r\n".join(rows).encode("utf-8-sig") + b"\r\n")
    run = run_cli("--db", url, "cohort", "run", str(path), **env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr.splitlines() == [
        f"pacsflow cohort run: {path}: ignored columns (not cohort columns): 'Patient Name', "
        "'Notes'",
        f"pacsflow cohort run: {path}: row 3 repeats row 1; counted once",
    ]
    assert "cohort excel: 2 items, 2 retrieved" in run.stdout
    assert "2 studies found (2 new), 2 picked: 2 complete" in run.stdout
    assert [line.split()[:2] for line in run.stdout.splitlines()[2:4]] == [
        ["1", "retrieved"],
        ["2", "retrieved"],
    ]
    for secret in ("DOE", "CLIA", "CLIP", "first", "again"):
        assert secret not in run.stdout + run.stderr


def test_find_says_a_date_range_cannot_find_undated_studies(
    run_cli: RunCli, env: dict[str, str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'find.sqlite'}"
    found = run_cli("--db", url, "find", "2024-08-01", "2024-08-02", **env)
    assert found.returncode == 0, found.stdout + found.stderr
    counts, note = found.stdout.splitlines()
    assert counts.startswith("2 studies found (2 new) in ")
    assert note == (
        "  note: a date range never finds studies without a valid StudyDate (empty, or not "
        "YYYYMMDD): use a cohort by PatientID or StudyInstanceUID for those (pacsflow cohort run)"
    )
