"""The find-studies flow: C-FIND on a real Orthanc, answers recorded in studies_find."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.config import SiteOptions
from flows.dates import DateRange
from flows.find_studies import find_studies_flow
from flows.options import Retrieval
from flows.results import FindSummary
from pacsflow.database.engine import make_engine
from pacsflow.database.models import StudyFind
from pacsflow.demo.synthetic import make_dataset, write_dataset
from pacsflow.net.nodes import PacsNode
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(
        modalities={"PACSFLOW": ("127.0.0.1", free_port())}, limit_find_results=3
    ).start()
    folder = tmp_path_factory.mktemp("find-flow")
    for day in ("20240301", "20240302"):
        for i in range(4):
            ds = make_dataset(StudyDate=day, StudyTime=f"{8 + i:02d}0000", AccessionNumber=f"A{i}")
            server.upload(write_dataset(ds, folder / f"{day}-{i}.dcm").read_bytes())
    yield server
    server.stop()


@pytest.mark.usefixtures("prefect_api_url")
def test_find_studies_flow_records_each_study_once(orthanc: OrthancServer, db_url: str) -> None:
    def run() -> FindSummary:
        return find_studies_flow(
            dates=DateRange(dt.date(2024, 3, 1), dt.date(2024, 3, 2)),
            retrieval=Retrieval(result_cap=3),
            site=SiteOptions(
                pacs=PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port), db_url=db_url
            ),
        )

    first = run()
    assert (first.studies_found, first.studies_new) == (8, 8)
    assert first.queries > 2  # the cap of 3 forced splits
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(StudyFind)))
    engine.dispose()
    assert len(rows) == 8
    assert {r.expected_instances for r in rows} == {1}
    assert {r.study_date for r in rows} == {dt.date(2024, 3, 1), dt.date(2024, 3, 2)}
    assert all(r.retrieved_on is None for r in rows)

    again = run()
    assert (again.studies_found, again.studies_new) == (8, 0)
