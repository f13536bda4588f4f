"""The pipeline and move-studies flows against a real Orthanc, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterName,
)

import flows.config.resolve
from flows.config import SiteOptions
from flows.dates import DateRange
from flows.move_studies import move_studies_flow
from flows.options import Retrieval, Selection
from flows.pipeline import pipeline
from flows.results import PipelineSummary
from pacsflow.demo.synthetic import make_find_answer, make_study, write_dataset
from pacsflow.net.dimse_errors import PacsUnreachableError
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.storage_files import INCOMING_FOLDER
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.attempts import DEFAULT_MAX_ATTEMPTS
from pacsflow.site import Site
from tests.helpers import found_studies, latest_artifact, record_found, table_counts

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api_url")]

GOOD_DAYS = ("20240401", "20240402")
STUDIES_PER_DAY = 3
SERIES, IMAGES = 2, 3  # per study
BAD_DAY = "20240410"  # one study holding an instance the SCP refuses
SCP_PORT = free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    folder = tmp_path_factory.mktemp("pipeline-studies")
    for day in GOOD_DAYS:
        for i in range(STUDIES_PER_DAY):
            study = make_study(
                n_series=SERIES, n_images=IMAGES, StudyDate=day, PatientID=f"PIPE{day}{i}"
            )
            for ds in study:
                server.upload(write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes())
    bad = make_study(n_series=1, n_images=3, StudyDate=BAD_DAY, PatientID="PIPEBAD")
    bad[1].SOPInstanceUID = "1.2.3.999.x"  # not a UID: pacsflow's SCP refuses it
    for i, ds in enumerate(bad):
        server.upload(write_dataset(ds, folder / f"bad{i}.dcm").read_bytes())
    yield server
    server.stop()


def _run(
    orthanc: OrthancServer,
    db_url: str,
    storage: Path,
    start_date: dt.date,
    end_date: dt.date | None = None,
    concurrency: int = 1,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ingest_workers: int = 0,
) -> PipelineSummary:
    return pipeline(
        dates=DateRange(start_date, end_date),
        selection=Selection(max_attempts=max_attempts),
        retrieval=Retrieval(concurrency=concurrency, ingest_workers=ingest_workers),
        site=SiteOptions(
            pacs=PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port),
            local=LocalAE(port=SCP_PORT),
            storage=str(storage),
            db_url=db_url,
        ),
    )


def test_pipeline_retrieves_every_study_once(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    # Two studies at once on PostgreSQL (the multi-worker database), one on SQLite.
    concurrency = 2 if db_url.startswith("postgresql") else 1
    first = _run(
        orthanc,
        db_url,
        storage,
        start_date=dt.date(2024, 4, 1),
        end_date=dt.date(2024, 4, 2),
        concurrency=concurrency,
    )
    n_studies = len(GOOD_DAYS) * STUDIES_PER_DAY
    n_images = n_studies * SERIES * IMAGES
    assert first.find.studies_found == n_studies
    assert first.find.studies_new == n_studies
    assert (first.move.studies_picked, first.move.studies_complete) == (n_studies, n_studies)
    assert (first.move.studies_partial, first.move.studies_failed) == (0, 0)
    assert first.move.images_added == n_images
    assert table_counts(db_url) == {
        "studies_find": n_studies,
        "patients": n_studies,
        "studies": n_studies,
        "series": n_studies * SERIES,
        "images": n_images,
        "ingest_errors": 0,
    }
    rows = list(found_studies(db_url).values())
    assert all(r.retrieved_on is not None for r in rows)
    assert {(r.attempts, r.received_instances, r.expected_instances) for r in rows} == {
        (1, SERIES * IMAGES, SERIES * IMAGES)
    }
    assert {r.modalities for r in rows} == {"CT"}
    files = [p for p in storage.rglob("*.dcm") if INCOMING_FOLDER not in p.parts]
    assert len(files) == n_images
    assert not list((storage / INCOMING_FOLDER).iterdir())
    summary = latest_artifact("pipeline-summary")
    assert f"| studies complete | {n_studies} |" in summary.data

    again = _run(
        orthanc, db_url, storage, start_date=dt.date(2024, 4, 1), end_date=dt.date(2024, 4, 2)
    )
    assert (again.find.studies_found, again.find.studies_new, again.move.studies_picked) == (
        n_studies,
        0,
        0,
    )
    assert again.move.images_added == 0
    assert table_counts(db_url)["images"] == n_images


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ingest_workers_ingest_each_study_in_the_worker_pool(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    from pacsflow.pool_worker import started_workers

    done = _run(orthanc, db_url, tmp_path / "storage", dt.date(2024, 4, 1), ingest_workers=2)
    assert (done.move.studies_complete, done.move.studies_partial) == (STUDIES_PER_DAY, 0)
    assert done.move.images_added == STUDIES_PER_DAY * SERIES * IMAGES
    assert table_counts(db_url)["images"] == STUDIES_PER_DAY * SERIES * IMAGES
    assert all(r.retrieved_on is not None for r in found_studies(db_url).values())
    assert any(p.is_alive() for p in started_workers())  # the pool ran them, and stays


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_study_with_failed_sub_operation_stays_unretrieved_until_given_up(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    first = _run(orthanc, db_url, storage, start_date=dt.date(2024, 4, 10), max_attempts=2)
    assert (first.move.studies_picked, first.move.studies_complete, first.move.studies_failed) == (
        1,
        0,
        1,
    )
    (row,) = found_studies(db_url).values()
    assert row.retrieved_on is None
    assert (row.attempts, row.received_instances, row.expected_instances) == (1, 1, 3)
    assert row.last_error is not None
    assert "0xC000" in row.last_error
    assert "PIPEBAD" not in row.last_error
    assert first.move.incomplete[0].study_uid == row.study_uid

    second = _run(orthanc, db_url, storage, start_date=dt.date(2024, 4, 10), max_attempts=2)
    assert (second.move.studies_picked, second.move.studies_failed) == (1, 1)
    third = _run(orthanc, db_url, storage, start_date=dt.date(2024, 4, 10), max_attempts=2)
    assert (third.move.studies_picked, third.move.studies_given_up) == (0, 1)
    assert third.move.given_up == [row.study_uid]
    (row,) = found_studies(db_url).values()
    assert (row.attempts, row.retrieved_on) == (2, None)
    assert "Given up after 2 attempts" in latest_artifact("pipeline-summary").data


# pynetdicom 3.0.4 leaks its socket on a refused connection (its _shutdown_socket
# calls shutdown() first, which fails on an unconnected socket, and skips close()).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pacs_down_is_retried_then_fails_with_nothing_marked(db_url: str, tmp_path: Path) -> None:
    uids = [f"1.2.826.0.1.3680043.10.1.{i}" for i in range(3)]
    record_found(db_url, [make_find_answer(uid) for uid in uids])
    closed = free_port()
    with pytest.raises(PacsUnreachableError, match=f"ORTHANC@127.0.0.1:{closed} cannot be reached"):
        move_studies_flow(
            site=SiteOptions(
                pacs=PacsNode("ORTHANC", "127.0.0.1", closed),
                local=LocalAE(port=free_port()),
                storage=str(tmp_path / "storage"),
                db_url=db_url,
            )
        )
    rows = list(found_studies(db_url).values())
    assert [r.retrieved_on for r in rows] == [None, None, None]
    assert [r.attempts for r in rows] == [0, 0, 0]  # no study was tried
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="echo"))
        )
    newest = max(runs, key=lambda r: r.created or dt.datetime.min.replace(tzinfo=dt.UTC))
    assert newest.run_count == 3  # the first try and two retries (PACSFLOW_RETRY_DELAYS)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_site_is_resolved_once_and_the_subflows_receive_it(
    orthanc: OrthancServer, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One resolution at the edge; find and move get the resolved site (one window end),
    and neither initialises the database nor echoes the PACS again."""
    resolutions: list[object] = []
    resolve = flows.config.resolve.resolve_site

    def counted(*args: Any, **kwargs: Any) -> Site:
        resolutions.append(args)
        return resolve(*args, **kwargs)

    monkeypatch.setattr(flows.config.resolve, "resolve_site", counted)
    state = pipeline(
        dates=DateRange(dt.date(2024, 5, 1)),  # no study that day: the subflows run quickly
        selection=Selection(retry_earlier=False),
        retrieval=Retrieval(until="06:30"),
        site=SiteOptions(
            pacs=PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port),
            local=LocalAE(port=SCP_PORT),
            storage=str(tmp_path / "storage"),
            db_url=db_url,
        ),
        return_state=True,
    )
    assert state.is_completed()
    assert len(resolutions) == 1
    parent = state.state_details.flow_run_id
    assert parent is not None
    with get_client(sync_client=True) as client:
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])
            )
        )
        runs = [parent, *(run.id for run in subflows)]
        tasks = client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=runs))
        )
    sites = {run.name.split()[0]: run.parameters["site"] for run in subflows}
    assert set(sites) == {"find", "move"}
    ends = {site["retrieval"]["window_end"] for site in sites.values()}
    assert len(ends) == 1
    assert None not in ends  # absolute: the same instant for both, whenever each started
    assert {site["db_url"] for site in sites.values()} == {db_url}
    names = [task.name.rsplit("-", 1)[0] for task in tasks]
    assert (names.count("init-db"), names.count("echo")) == (1, 1)
