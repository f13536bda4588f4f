"""A pacsanini 0.2.1 user switching in place: their database is adopted, every row kept.

The databases under tests/data/pacsanini were made by pacsanini 0.2.1 itself
(make_fixtures.py, in a venv of its own): on SQLite by its
``initialize_database`` (Alembic revision eef30b8456eb, with views); on
PostgreSQL, where that fails, its five tables alone, restored here from the
pg_dump. Both were filled by pacsanini's ``parse_dir2sql`` from
tests/data/pacsanini/files and by ``add_found_study`` /
``update_retrieved_study``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from flows.config import SiteOptions
from flows.move_studies import move_studies_flow
from pacsflow.database.engine import make_engine
from pacsflow.database.schema import current_revision, head_revision
from pacsflow.db import (
    DBWrapper,
    Image,
    ManufacturerView,
    Patient,
    Study,
    StudyFind,
    StudyMetaView,
    dump_database,
    initialize_database,
    parse_dir2sql,
)
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.peers.postgres import postgres_bin_dir
from tests.conftest import RunCli
from tests.helpers import table_counts

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "pacsanini"
ROOT = "1.2.826.0.1.3680043.10.1341.77"
ROWS = {"studies_find": 4, "patients": 2, "studies": 3, "series": 4, "images": 6}
SCP_PORT = free_port()


def _sqlite_copy(tmp_path: Path) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "pacsanini.sqlite"
    shutil.copy(DATA / "pacsanini-0.2.1.sqlite", target)
    return f"sqlite:///{target}"


def _postgres_copy(new_empty_pg: Callable[[], str]) -> str:
    url = new_empty_pg()
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    psql = postgres_bin_dir(os.environ.get("PACSFLOW_PG_BIN")) / "psql"
    done = subprocess.run(
        [str(psql), "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq, "-f",
         str(DATA / "pacsanini-0.2.1-postgresql.sql")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture
def new_empty_pg(pg_admin_url: str) -> Callable[[], str]:
    """A fresh, empty PostgreSQL database (no pacsflow schema), as pacsanini's users had."""
    from tests.conftest import _new_pg_database

    return lambda: _new_pg_database(pg_admin_url, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def pacsanini_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _sqlite_copy(tmp_path)
    return _postgres_copy(request.getfixturevalue("new_empty_pg"))


def _rows(url: str, table: str, order: str = "id") -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            reflected = Table(table, MetaData(), autoload_with=conn)
            query = select(reflected).order_by(reflected.c[order])
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def test_adoption_keeps_every_row_and_fixes_what_pacsanini_stored_wrongly(
    pacsanini_url: str,
) -> None:
    before = {table: _rows(pacsanini_url, table) for table in ROWS}
    assert {table: len(rows) for table, rows in before.items()} == ROWS

    report = initialize_database(pacsanini_url)

    assert report is not None
    assert report.rows == ROWS
    assert current_revision(pacsanini_url) == head_revision()
    counts = table_counts(pacsanini_url)
    assert {table: counts[table] for table in ROWS} == ROWS
    # Ids are kept, so every reference still holds; found_on / retrieved_on intact.
    found = {row["id"]: row for row in _rows(pacsanini_url, "studies_find")}
    for old in before["studies_find"]:
        new = found[old["id"]]
        assert (new["study_uid"], new["found_on"], new["retrieved_on"]) == (
            old["study_uid"],
            old["found_on"],
            old["retrieved_on"],
        )
        assert new["study_date"] == old["study_date"].date()
    assert found[4]["study_uid"] == "study1"  # pacsanini stored it; kept as it was
    url = pacsanini_url
    images = {row["image_uid"].removeprefix(f"{ROOT}."): row for row in _rows(url, "images")}
    assert {uid: row["acquisition_time"] for uid, row in images.items()} == {
        "1.1.1": dt.time(10, 15, 30, 250000),
        "1.1.2": dt.time(10, 15, 31),
        "1.2.1": None,  # pacsanini's -1: absent
        "2.1.1": dt.time(9, 30),
        "3.1.1": dt.time(23, 59, 59, 999999),
        "3.1.2": dt.time(12, 0),  # "12" in the header: pacsanini's float 12.0 said 00:00:12
    }
    assert {row["patient_name"] for row in images.values()} == {"Alpha^Ann", None}
    assert all(isinstance(row["meta"], dict) for row in images.values())
    studies = {row["study_uid"].removeprefix(f"{ROOT}."): row for row in _rows(url, "studies")}
    assert {uid: row["patient_age"] for uid, row in studies.items()} == {
        "1": 64.0,
        "2": 64.0,
        "3": -1.0,
    }
    # pacsanini never linked a study to its C-FIND record; adoption does.
    assert {uid: row["study_find_id"] for uid, row in studies.items()} == {
        "1": 1,
        "2": 2,
        "3": None,
    }
    assert report.converted["studies linked to their C-FIND record"] == 2
    assert report.converted["images.acquisition_time read from the header"] == 5
    assert report.converted["images.patient_name filled from the header"] == 4
    patients = {row["patient_id"]: row for row in _rows(url, "patients")}
    assert patients["PSN001"]["patient_birth_date"] == dt.date(1960, 1, 2)
    assert patients["PSN002"]["patient_name"] is None  # no name in any header: left NULL

    # The views are pacsflow's, valid on both databases, and pacsanini's view classes read them.
    engine = make_engine(url)
    with Session(engine) as session:
        metadata = {
            row.study_uid: row.image_count for row in session.scalars(select(StudyMetaView))
        }
        assert metadata == {f"{ROOT}.1": 3, f"{ROOT}.2": 1, f"{ROOT}.3": 2}
        makers = {
            row.manufacturer: row.image_count for row in session.scalars(select(ManufacturerView))
        }
        assert makers == {"ACME": 5, "Other Corp": 1}
        # New rows get new ids (PostgreSQL's sequences follow the copied ids).
        session.add(StudyFind(study_uid=f"{ROOT}.10", found_on=dt.datetime(2026, 1, 1)))
        session.commit()
        assert session.scalar(select(StudyFind.id).where(StudyFind.study_uid == f"{ROOT}.10")) == 5
    engine.dispose()

    assert initialize_database(pacsanini_url) is None  # adopted once; then a pacsflow database


def test_reingesting_pacsanini_folder_adds_nothing_and_new_files_go_in(
    pacsanini_url: str, tmp_path: Path
) -> None:
    initialize_database(pacsanini_url)
    again = parse_dir2sql(str(DATA / "files"), pacsanini_url, institution_name="PACSFLOW")
    assert (again.images_added, again.already_present, again.failed) == (0, 6, 0)
    new = make_study(n_images=2, PatientID="PSN001")
    for ds in new:
        write_dataset(ds, tmp_path / "new" / f"{ds.SOPInstanceUID}.dcm")
    added = parse_dir2sql(str(tmp_path / "new"), pacsanini_url)
    assert added.images_added == 2
    counts = table_counts(pacsanini_url)
    assert (counts["patients"], counts["studies"], counts["images"]) == (2, 4, 8)


def test_a_config_object_and_dbwrapper_create_tables_adopt_too(tmp_path: Path) -> None:
    url = _sqlite_copy(tmp_path)
    config = SimpleNamespace(storage=SimpleNamespace(resources=url, directory="./"))
    report = initialize_database(config)
    assert report is not None
    assert report.rows == ROWS
    other = _sqlite_copy(tmp_path / "second")
    with DBWrapper(other, create_tables=True) as wrapper:
        session = wrapper.conn()
        assert session.query(Image).count() == 6
        assert session.query(Patient).count() == 2
        assert session.query(Study).filter(Study.study_find_id.is_not(None)).count() == 2
    with pytest.raises(TypeError, match=r"storage\.resources"):
        initialize_database(SimpleNamespace(storage=None))


def test_dump_keeps_pacsanini_column_order_first(tmp_path: Path) -> None:
    url = _sqlite_copy(tmp_path)
    initialize_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        paths = dump_database(session, tmp_path / "csv", ["studies_find", "patients", "images"])
    engine.dispose()
    headers = {p.stem: p.read_text().splitlines()[0].split(",") for p in paths}
    assert headers["studies_find"][:8] == [
        "id", "patient_name", "patient_id", "study_uid", "study_date", "accession_number",
        "retrieved_on", "found_on",
    ]  # fmt: skip
    assert headers["patients"][:5] == [
        "id", "patient_id", "patient_name", "patient_birth_date", "institution",
    ]  # fmt: skip
    assert headers["images"][-2:] == ["file_size", "file_mtime"]  # pacsflow's own, after


def test_init_db_command_reports_the_adoption(run_cli: RunCli, tmp_path: Path) -> None:
    url = _sqlite_copy(tmp_path)
    done = run_cli("--db", url, "init-db")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("adopted a pacsanini 0.2.1 database; rows kept: 4 studies_find")
    assert "  converted: 2 studies linked to their C-FIND record" in lines
    assert lines[-1].endswith(f"is at schema revision {head_revision()}")
    for marker in ("Alpha", "PSN00"):
        assert marker not in done.stdout + done.stderr
    second = run_cli("--db", url, "init-db")
    assert second.stdout.splitlines() == [lines[-1]]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A PACS holding the study pacsanini found and never moved (PA9)."""
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    folder = tmp_path_factory.mktemp("pacsanini-pacs")
    study = make_study(n_images=3, StudyInstanceUID=f"{ROOT}.9", PatientID="PSN009")
    server.upload_many(
        [write_dataset(ds, folder / f"{i}.dcm").read_bytes() for i, ds in enumerate(study)]
    )
    yield server
    server.stop()


@pytest.mark.usefixtures("prefect_api_url")
def test_the_pipeline_moves_what_pacsanini_found_and_never_moved(
    pacsanini_url: str, orthanc: OrthancServer, tmp_path: Path
) -> None:
    result = move_studies_flow(
        site=SiteOptions(
            pacs=PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port),
            local=LocalAE(port=SCP_PORT),
            storage=str(tmp_path / "storage"),
            db_url=pacsanini_url,
        )
    )
    # PA9 is on the PACS; "study1" (not a UID) never was: it stays unretrieved.
    assert (result.studies_picked, result.studies_complete) == (2, 1)
    assert result.images_added == 3
    found = {row["study_uid"]: row for row in _rows(pacsanini_url, "studies_find")}
    assert found[f"{ROOT}.9"]["retrieved_on"] is not None
    assert found["study1"]["retrieved_on"] is None
    engine = create_engine(pacsanini_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_view_names()) == {"study_metadata", "manufacturers"}
        assert conn.scalar(text("SELECT count(*) FROM images")) == 9
    engine.dispose()
