"""PACS courtesy of scheduled runs: the retrieval window's end, and failing on incomplete
studies, with the move flow against Orthanc (DICOMweb, through a proxy that holds the
first study in flight until the window has ended)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from flows.config import SiteOptions
from flows.move_studies import move_studies_flow
from flows.options import Retrieval
from flows.summaries import IncompleteRunError
from pacsflow.demo.synthetic import dataset_bytes, make_find_answer, make_study
from pacsflow.net.nodes import PacsNode
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.retrieval.window import window_end
from tests.helpers import found_studies, latest_artifact, record_found
from tests.peers.web_proxy import MeddlingProxy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api_url")]

DATES = ["20240901", "20240902", "20240903"]  # moved oldest first


@pytest.fixture(scope="module")
def orthanc() -> Iterator[tuple[OrthancServer, list[str]]]:
    server = OrthancServer(dicomweb=True).start()
    uids = []
    for day in DATES:
        study = make_study(n_images=2, StudyDate=day)
        server.upload_many([dataset_bytes(ds) for ds in study])
        uids.append(str(study[0].StudyInstanceUID))
    yield server, uids
    server.stop()


def _move(url: str, db_url: str, storage: Path, retrieval: Retrieval) -> State[Any]:
    state: State[Any] = move_studies_flow(
        retrieval=retrieval,
        site=SiteOptions(
            pacs=PacsNode("ORTHANC", "127.0.0.1", 80, "dicomweb", url),
            storage=str(storage),
            db_url=db_url,
        ),
        return_state=True,
    )
    return state


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_study_starts_after_the_window_ends_and_the_next_run_takes_them(
    orthanc: tuple[OrthancServer, list[str]], db_url: str, tmp_path: Path
) -> None:
    server, uids = orthanc
    record_found(db_url, [make_find_answer(u, d) for u, d in zip(uids, DATES, strict=True)])
    storage = tmp_path / "storage"
    end = dt.datetime.now().astimezone() + dt.timedelta(seconds=1.5)
    in_flight = threading.Event()

    def release_after_the_end() -> None:
        time.sleep(max(0.0, (end - dt.datetime.now().astimezone()).total_seconds()) + 0.5)
        in_flight.set()

    threading.Thread(target=release_after_the_end, daemon=True).start()
    with MeddlingProxy(server.base_url, hold=in_flight) as proxy:
        state = _move(f"{proxy.url}/dicom-web", db_url, storage, Retrieval(until=end.isoformat()))
    summary = state.result()
    assert (summary.studies_picked, summary.studies_complete) == (3, 1)
    assert summary.studies_not_started == 2
    assert summary.not_started == uids[1:]
    assert summary.incomplete == []
    assert "Studies not started (the retrieval window ended)" in str(
        latest_artifact("move-studies-summary").data
    )
    rows = found_studies(db_url)
    assert rows[uids[0]].retrieved_on is not None
    for uid in uids[1:]:  # untouched: never claimed, no try recorded
        assert (rows[uid].retrieved_on, rows[uid].attempts, rows[uid].claimed_by) == (None, 0, None)

    again = _move(server.dicomweb_url, db_url, storage, Retrieval()).result()
    assert (again.studies_picked, again.studies_complete) == (2, 2)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fail_on_incomplete_ends_the_run_failed_after_its_summary(
    orthanc: tuple[OrthancServer, list[str]], db_url: str, tmp_path: Path
) -> None:
    server, uids = orthanc
    missing = "1.2.826.0.1.3680043.10.1341.404"  # found once, gone from the PACS since
    record_found(
        db_url,
        [make_find_answer(uids[0], DATES[0]), make_find_answer(missing, "20240904")],
    )
    state = _move(
        server.dicomweb_url, db_url, tmp_path / "storage", Retrieval(fail_on_incomplete=True)
    )
    assert state.is_failed()
    with pytest.raises(IncompleteRunError, match="0 studies partial and 1 failed of 2 picked"):
        state.result()
    assert missing in str(latest_artifact("move-studies-summary").data)
    rows = found_studies(db_url)
    assert rows[uids[0]].retrieved_on is not None
    assert rows[missing].retrieved_on is None
    assert rows[missing].attempts == 1
    # Without the option the same run ends Completed, reporting the study.
    again = _move(server.dicomweb_url, db_url, tmp_path / "storage", Retrieval())
    assert again.is_completed()
    assert [i.study_uid for i in again.result().incomplete] == [missing]


def test_the_window_ends_at_the_next_such_time_after_the_scheduled_start() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    night = dt.datetime(2026, 12, 1, 2, 0, tzinfo=paris)
    assert window_end("06:30", night) == dt.datetime(2026, 12, 1, 6, 30, tzinfo=paris)
    evening = dt.datetime(2026, 12, 1, 23, 0, tzinfo=paris)
    assert window_end("06:30", evening) == dt.datetime(2026, 12, 2, 6, 30, tzinfo=paris)
    assert window_end("02:00", night) == dt.datetime(2026, 12, 2, 2, 0, tzinfo=paris)
    absolute = "2026-12-01T07:00:00+01:00"
    assert window_end(absolute, evening) == dt.datetime(2026, 12, 1, 7, 0, tzinfo=paris)
    for bad in ("25:00", "7h", "2026-12-01T07:00:00"):  # the last has no UTC offset
        with pytest.raises(ValueError, match="not a time of day"):
            window_end(bad, night)
    with pytest.raises(ValueError, match="not a time of day"):
        Retrieval(until="noon")
