"""Case 7: patient data and database passwords go nowhere but the pacsflow database.

The full pipeline, a cohort run (its file names items by marker accession
number and patient ID), a plain export of the cohort (its manifest checked
too) and an ingest run from the CLI, verbose (INFO logs of
Prefect, pacsflow and pynetdicom), with a Prefect of their own whose home is
a test folder, on PostgreSQL with a password in the URL. The studies carry
marker names, IDs and birth dates, some of them malformed so that pydicom
complains about them. Afterwards every byte of the CLI output and of
PREFECT_HOME (the Prefect database with its logs, flow-run parameters,
states and artifacts; any persisted result) is searched for the markers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.pacsflow_cli import run_pacsflow
from pacsflow.peers.ports import free_port
from tests.helpers import table_counts

pytestmark = pytest.mark.integration

SCP_PORT = free_port()
PASSWORD = "Pw9SecretQzv"  # noqa: S105 - the marker of a password
TOKEN = "Tk7BearerQzv"  # noqa: S105 - the marker of a DICOMweb token
PSEUDONYM_KEY = "Pk3PseudonymKeyQzv"  # the marker of a pseudonymisation key
NAME, ID, BIRTH = "Zqxmarker^Privatus", "ZQXID7781", "19070311"
ACCESSION = "ZQXACC55"
MARKERS = [
    ACCESSION,
    "Zqxmarker",
    "Privatus",
    "ZQXID7781",
    "19070311",
    "1907-03-11",
    "19071399",  # a malformed birth date pydicom would quote
    "ZQXBAD",
    PASSWORD,
    TOKEN,
    PSEUDONYM_KEY,
]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}, dicomweb=True).start()
    folder = tmp_path_factory.mktemp("privacy-studies")
    good = make_study(
        n_series=2,
        n_images=2,
        StudyDate="20241001",
        PatientName=NAME,
        PatientID=ID,
        PatientBirthDate=BIRTH,
        AccessionNumber=ACCESSION,
    )
    odd = make_study(
        n_images=2,
        StudyDate="20241001",
        PatientName="Zqxmarker^Second",
        PatientID="ZQXBAD\\2",
        PatientBirthDate="19071399",
        PatientAge="ZQXY",
    )
    refused = make_study(n_images=2, StudyDate="20241002", PatientName=NAME, PatientID=ID)
    refused[0].SOPInstanceUID = "1.2.3.999.x"  # the SCP refuses it: a failed sub-operation
    files = [
        write_dataset(ds, folder / f"{i}.dcm").read_bytes()
        for i, ds in enumerate(good + odd + refused)
    ]
    server.upload_many(files)
    yield server
    server.stop()


def _leaks(text: bytes) -> list[str]:
    lowered = text.lower()
    return [m for m in MARKERS if m.lower().encode() in lowered]


def test_markers_appear_nowhere_but_in_the_pacsflow_database(
    orthanc: OrthancServer,
    new_db_url: Callable[[str], str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = make_url(new_db_url("postgresql")).set(password=PASSWORD)
    db = url.render_as_string(hide_password=False)
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PACSFLOW_DB"))}
    env.update(
        {
            "PREFECT_HOME": str(home),  # a Prefect of its own, its database in there
            "PACSFLOW_PACS_AET": orthanc.ae_title,
            "PACSFLOW_PACS_HOST": "127.0.0.1",
            "PACSFLOW_PACS_PORT": str(orthanc.dicom_port),
            "PACSFLOW_LOCAL_PORT": str(SCP_PORT),
            "PACSFLOW_STORAGE": str(tmp_path / "storage"),
        }
    )
    work = tmp_path / "work"
    work.mkdir()
    # The local server the CLI starts in that Prefect home stops even when an assertion
    # fails before the test stops it (its keeper would idle for 30 minutes).
    request.addfinalizer(lambda: run_pacsflow(env, work, "server", "stop"))
    run = run_pacsflow(env, work, "-v", "--db", db, "run", "2024-10-01", "2024-10-02")
    assert run.returncode == 1, run.stdout + run.stderr  # one study is incomplete
    ingest = run_pacsflow(env, work, "-v", "--db", db, "ingest", str(tmp_path / "storage"))
    assert ingest.returncode in (0, 1), ingest.stdout + ingest.stderr
    cohort_file = tmp_path / "request.csv"
    cohort_file.write_text(f"AccessionNumber,PatientID\n{ACCESSION},\n,{ID}\n,ZQXBAD\n")
    cohort = run_pacsflow(env, work, "-v", "--db", db, "cohort", "run", str(cohort_file))
    # Row 2's patient holds the refused study: that item stays partial.
    assert cohort.returncode == 1, cohort.stdout + cohort.stderr
    status = run_pacsflow(env, work, "--db", db, "cohort", "status", "request", "--json")
    assert [i["status"] for i in json.loads(status.stdout)["items"]] == [
        "retrieved",
        "partial",
        "not_found",
    ]
    # The incomplete study again, over DICOMweb with a bearer token (Orthanc ignores it).
    web = {
        **env,
        "PACSFLOW_TRANSPORT": "dicomweb",
        "PACSFLOW_PACS_DICOMWEB_URL": orthanc.dicomweb_url,
        "PACSFLOW_DICOMWEB_TOKEN": TOKEN,
    }
    over_web = run_pacsflow(web, work, "-v", "--db", db, "move")
    assert over_web.returncode == 1, over_web.stdout + over_web.stderr  # a part is refused
    assert "1 studies picked: 0 complete, 1 partial" in over_web.stdout
    # A plain export of the cohort (its files hold the markers, by design): Prefect
    # gets none of them; the manifest neither.
    export = run_pacsflow(env, work, "-v", "--db", db, "export", str(tmp_path / "export"),
                          "--cohort", "request")  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    assert _leaks((tmp_path / "export" / "manifest.json").read_bytes()) == []
    # A pseudonymised one: nothing of the markers anywhere in it, nor in Prefect.
    research = tmp_path / "research"
    pseudonymised = run_pacsflow({**env, "PACSFLOW_PSEUDONYM_KEY": PSEUDONYM_KEY}, work, "-v",
                                 "--db", db, "export", str(research), "--cohort", "request",
                                 "--pseudonymise")  # fmt: skip
    assert pseudonymised.returncode == 0, pseudonymised.stdout + pseudonymised.stderr
    research_files = [p for p in research.rglob("*") if p.is_file()]
    assert len(research_files) > 5
    for path in research_files:
        assert _leaks(path.read_bytes()) == [], path
    # All ran on the local server the CLI started in that Prefect home: stop it, then search.
    stop = run_pacsflow(env, work, "server", "stop")
    assert "stopped the server" in stop.stdout, stop.stdout + stop.stderr

    counts = table_counts(db)
    assert counts["patients"] == 2, "the markers did reach the pacsflow database"
    assert counts["images"] == 4 + 2 + 1

    outputs = {
        f"{name} {stream}": getattr(result, stream).encode()
        for name, result in (
            ("run", run),
            ("ingest", ingest),
            ("cohort", cohort),
            ("status", status),
            ("move over DICOMweb", over_web),
            ("export", export),
            ("pseudonymised export", pseudonymised),
        )
        for stream in ("stdout", "stderr")
    }
    assert b"INFO" in outputs["run stderr"], "the logs were verbose"
    for where, text in outputs.items():
        assert _leaks(text) == [], where
    searched = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("prefect.db") for p in searched), "Prefect's database"
    for path in searched:
        assert _leaks(path.read_bytes()) == [], path
    for path in work.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_bytes()) == [], path
