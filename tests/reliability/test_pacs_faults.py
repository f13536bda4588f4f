"""Case 3: PACS faults, against a real Orthanc.

Each fault must give a clear error naming the PACS and the study, Prefect
must retry the transient faults only, and no study may be marked retrieved
unless it is complete.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.client.schemas.objects import State, TaskRun
from pydicom import config

from flows.config import SiteOptions
from flows.move_studies import move_studies_flow
from pacsflow.demo.synthetic import make_find_answer, make_study, write_dataset
from pacsflow.errors import RetryableError
from pacsflow.net.dimse_errors import AssociationRejectedError, DimseFailureError
from pacsflow.net.find import StudyQuery, find_studies
from pacsflow.net.nodes import DEFAULT_LOCAL_AE_TITLE, LocalAE, PacsNode
from pacsflow.net.storage_files import INCOMING_FOLDER
from pacsflow.peers.dcmtk import DcmqrscpServer
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.attempts import StudyPick
from tasks.retry import RETRY_DELAYS_S
from tests.helpers import found_studies, record_found

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api_url")]

TRIES = 1 + len(RETRY_DELAYS_S)


def _orthanc(
    tmp_path: Path, scp_port: int, studies: list[list[Any]], **config: Any
) -> OrthancServer:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", scp_port)})
    server.config.update(config)
    server.start()
    files = [
        write_dataset(ds, tmp_path / "upload" / f"{ds.SOPInstanceUID}.dcm").read_bytes()
        for study in studies
        for ds in study
    ]
    server.upload_many(files)
    return server


def _found(db_url: str, studies: list[list[Any]]) -> list[str]:
    """Record the studies as a C-FIND would have, with their instance counts."""
    answers = [
        make_find_answer(
            study[0].StudyInstanceUID,
            study[0].StudyDate,
            NumberOfStudyRelatedInstances=len(study),
        )
        for study in studies
    ]
    record_found(db_url, answers)
    return [study[0].StudyInstanceUID for study in studies]


def _task_runs(flow_state: State[Any], name: str) -> list[TaskRun]:
    flow_run_id = flow_state.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)),
        )


def _orthanc_ae(server: OrthancServer) -> tuple[str, int]:
    return server.ae_title, server.dicom_port


def _move(
    pacs: tuple[str, int],
    db_url: str,
    scp_port: int,
    storage: Path,
    *,
    called: str | None = None,
    calling: str = DEFAULT_LOCAL_AE_TITLE,
    pick: StudyPick | None = None,
) -> State[Any]:
    """Run move-studies from the PACS ``(AE title, port)`` on 127.0.0.1; its final state.

    ``called`` replaces the PACS's AE title, ``calling`` pacsflow's.
    """
    state: State[Any] = move_studies_flow(
        pick=pick,
        site=SiteOptions(
            pacs=PacsNode(called or pacs[0], "127.0.0.1", pacs[1]),
            local=LocalAE(calling, scp_port),
            storage=str(storage),
            db_url=db_url,
        ),
        return_state=True,
    )
    return state


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # pynetdicom, refused connections
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pacs_stopped_during_a_move_is_retried_and_nothing_is_marked(
    db_url: str, tmp_path: Path
) -> None:
    scp_port = free_port()
    big = make_study(n_series=2, n_images=150, StudyDate="20240301")
    small = make_study(n_series=1, n_images=2, StudyDate="20240302")
    server = _orthanc(tmp_path, scp_port, [big, small])
    uids = _found(db_url, [big, small])
    storage = tmp_path / "storage"
    arrived = storage / uids[0]

    flow_ended = threading.Event()

    def stop_when_files_arrive() -> None:
        while not flow_ended.is_set():
            if arrived.is_dir() and sum(1 for _ in arrived.rglob("*.dcm")) >= 30:
                server.kill()
                return
            flow_ended.wait(0.02)

    stopper = threading.Thread(target=stop_when_files_arrive)
    stopper.start()
    try:
        state = _move(_orthanc_ae(server), db_url, scp_port, storage)
    finally:
        flow_ended.set()
        stopper.join(timeout=60)
        server.stop()
    summary = state.result()
    # Transient: each transfer is retried by Prefect, then what arrived is ingested
    # and the run's one try is recorded as partial (tried again by the next run).
    assert (summary.studies_complete, summary.studies_partial) == (0, 2)
    pacs = f"ORTHANC@127.0.0.1:{server.dicom_port}"
    for item in summary.incomplete:
        assert item.study_uid in str(item.error)
        assert pacs in str(item.error)
    runs = _task_runs(state, "transfer-study")
    assert sorted(r.run_count for r in runs) == [TRIES, TRIES], "transient: retried"
    assert [r.run_count for r in _task_runs(state, "ingest-study")] == [1, 1]

    rows = found_studies(db_url)
    assert all(row.retrieved_on is None for row in rows.values())
    assert {uid: row.attempts for uid, row in rows.items()} == dict.fromkeys(uids, 1)
    assert pacs in (rows[uids[0]].last_error or "")
    received = len([p for p in storage.rglob("*.dcm") if INCOMING_FOLDER not in p.parts])
    assert 30 <= received < len(big)
    assert rows[uids[0]].received_instances == received, "what arrived is kept, not lost"

    # Still down when the next run starts: it fails at its C-ECHO, touching nothing.
    again = _move(_orthanc_ae(server), db_url, scp_port, storage)
    assert again.is_failed()
    assert "cannot be reached" in str(again.message)
    assert [r.run_count for r in _task_runs(again, "echo")] == [TRIES]
    assert {row.attempts for row in found_studies(db_url).values()} == {1}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rejected_association_fails_at_once(db_url: str, tmp_path: Path) -> None:
    scp_port = free_port()
    study = make_study(n_images=2, StudyDate="20240303")
    server = _orthanc(tmp_path, scp_port, [study])
    try:
        _found(db_url, [study])
        state = _move(
            _orthanc_ae(server), db_url, scp_port, tmp_path / "storage", called="NOT-ORTHANC"
        )
    finally:
        server.stop()
    assert state.is_failed()
    with pytest.raises(AssociationRejectedError, match=r"NOT-ORTHANC@.*not recognised"):
        state.result()
    assert [r.run_count for r in _task_runs(state, "echo")] == [1], "permanent: not retried"
    assert [row.attempts for row in found_studies(db_url).values()] == [0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_failed_sub_operations_and_unknown_destination_are_not_retried(
    db_url: str, tmp_path: Path
) -> None:
    scp_port = free_port()
    refused = make_study(n_images=3, StudyDate="20240304")
    refused[1].SOPInstanceUID = "1.2.3.999.x"  # not a UID: pacsflow's SCP refuses it
    fine = make_study(n_images=2, StudyDate="20240305")
    # Any AE may ask for a move, so a C-MOVE to an AE Orthanc does not know is possible
    # (and may query: the flow's echo checks that its C-FIND is accepted).
    server = _orthanc(
        tmp_path, scp_port, [refused, fine], DicomAlwaysAllowMove=True, DicomAlwaysAllowFind=True
    )
    storage = tmp_path / "storage"
    try:
        uids = _found(db_url, [refused, fine])
        sub_ops = _move(
            _orthanc_ae(server),
            db_url,
            scp_port,
            storage,
            pick=StudyPick(end_date=dt.date(2024, 3, 4)),
        )
        unknown = _move(
            _orthanc_ae(server),
            db_url,
            free_port(),
            tmp_path / "stranger-storage",  # one receiver per folder, with its own AE title
            calling="STRANGER",
            pick=StudyPick(start_date=dt.date(2024, 3, 5)),
        )
    finally:
        server.stop()

    pacs = f"ORTHANC@127.0.0.1:{server.dicom_port}"
    (item,) = sub_ops.result().incomplete
    assert item.study_uid == uids[0]
    # Orthanc ends the move at the first refused instance, with a Failure status.
    assert f"{pacs} answered the C-MOVE of study {uids[0]} to PACSFLOW" in str(item.error)
    assert "0xC000" in str(item.error)
    assert [r.run_count for r in _task_runs(sub_ops, "transfer-study")] == [1]

    (item,) = unknown.result().incomplete
    assert item.outcome == "failed"
    assert pacs in str(item.error)
    assert f"study {uids[1]} to STRANGER" in str(item.error)
    assert [r.run_count for r in _task_runs(unknown, "transfer-study")] == [1]

    rows = found_studies(db_url)
    assert [rows[uid].retrieved_on for uid in uids] == [None, None]
    assert rows[uids[0]].received_instances == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_warning_status_with_a_failed_sub_operation_leaves_the_study_unretrieved(
    db_url: str, tmp_path: Path
) -> None:
    # DCMTK's dcmqrscp goes on after a failed sub-operation and ends with a
    # Warning (0xB000), where Orthanc stops with a Failure.
    scp_port = free_port()
    study = make_study(n_images=3, StudyDate="20240306")
    with config.disable_value_validation():
        study[1].SOPInstanceUID = "1.2.3.999.x"  # not a UID: pacsflow's SCP refuses it
    files = [write_dataset(ds, tmp_path / "send" / f"{i}.dcm") for i, ds in enumerate(study)]
    server = DcmqrscpServer({"PACSFLOW": ("127.0.0.1", scp_port)}).start()
    try:
        server.load(files)
        (uid,) = _found(db_url, [study])
        state = _move((server.ae_title, server.port), db_url, scp_port, tmp_path / "storage")
    finally:
        server.stop()
    (item,) = state.result().incomplete
    assert item.outcome == "partial"
    assert "status 0xB000: 2 sent, 1 failed" in str(item.error), item.error
    assert [r.run_count for r in _task_runs(state, "transfer-study")] == [1]
    row = found_studies(db_url)[uid]
    assert (row.retrieved_on, row.received_instances, row.expected_instances) == (None, 2, 3)


def test_c_find_failure_is_a_permanent_error_naming_the_pacs(tmp_path: Path) -> None:
    server = _orthanc(tmp_path, free_port(), [])
    node = PacsNode(server.ae_title, "127.0.0.1", server.dicom_port)
    try:
        with pytest.raises(DimseFailureError, match=f"{node} refused the C-FIND .* 0xC000") as info:
            find_studies(
                LocalAE(),
                node,
                dt.date(2024, 1, 1),
                None,
                StudyQuery(keys={"QueryRetrieveLevel": "NOT-A-LEVEL"}),
            )
    finally:
        server.stop()
    assert info.value.status == 0xC000
    assert not isinstance(info.value, RetryableError), "Prefect's retry condition skips it"
