"""C-MOVE and the retrieval of one study, against Orthanc and DCMTK's dcmqrscp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, StudyFind
from pacsflow.net.dimse_errors import DimseFailureError
from pacsflow.net.move import move_study
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.storage import StorageSCP
from pacsflow.net.storage_files import study_folder
from pacsflow.net.study_contents import find_study_instances
from pacsflow.peers.dcmtk import DcmqrscpServer
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.one_study import RetrievalRequest, retrieve_study
from tests.helpers import record_study_found, study_uid_of

pytestmark = pytest.mark.integration

LOCAL = LocalAE("PACSFLOW", free_port())


@pytest.fixture(scope="module")
def orthanc(study_files: list[Path]) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={LOCAL.ae_title: ("127.0.0.1", LOCAL.port)}).start()
    for path in study_files:
        server.upload(path.read_bytes())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dcmqrscp(study_files: list[Path]) -> Iterator[DcmqrscpServer]:
    server = DcmqrscpServer({LOCAL.ae_title: ("127.0.0.1", LOCAL.port)}).start()
    server.load(study_files)
    yield server
    server.stop()


def test_unknown_move_destination_is_a_permanent_error_naming_the_status(
    orthanc: OrthancServer, dcmqrscp: DcmqrscpServer, study_files: list[Path]
) -> None:
    uid = study_uid_of(study_files)
    orthanc_node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    with pytest.raises(DimseFailureError, match="0xC000") as caught:
        move_study(LOCAL, orthanc_node, uid, "NOWHERE")
    assert caught.value.status == 0xC000
    dcmqr_node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    with pytest.raises(DimseFailureError, match=r"0xA801.*move destination unknown") as caught:
        move_study(LOCAL, dcmqr_node, uid, "NOWHERE")
    assert caught.value.status == 0xA801


def test_dcmqrscp_destination_down_fails_the_move(
    dcmqrscp: DcmqrscpServer, study_files: list[Path]
) -> None:
    node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    # The destination is listed, but no storage SCP runs: every sub-operation fails.
    with pytest.raises(DimseFailureError, match=r"0xA702.*12 failed"):
        move_study(LOCAL, node, study_uid_of(study_files), LOCAL.ae_title)


def test_image_level_find_lists_every_instance(
    dcmqrscp: DcmqrscpServer, study_files: list[Path]
) -> None:
    node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    contents = find_study_instances(LOCAL, node, study_uid_of(study_files))
    assert sorted(len(sops) for sops in contents.values()) == [4, 4, 4]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dcmqrscp_study_without_instance_count_is_judged_by_image_level_find(
    dcmqrscp: DcmqrscpServer, study_files: list[Path], db_url: str, tmp_path: Path
) -> None:
    uid = record_study_found(db_url, study_files, counted=False)
    node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port)
    request = RetrievalRequest(LOCAL, node, tmp_path / "storage", "DCMQR")
    engine = make_engine(db_url)
    with StorageSCP(LOCAL, request.storage, [dcmqrscp.ae_title]):
        outcome = retrieve_study(engine, request, uid)
    assert (outcome.outcome, outcome.expected, outcome.received, outcome.moved) == (
        "complete",
        12,
        12,
        12,
    )
    with Session(engine) as session:
        row = session.scalars(select(StudyFind)).one()
    engine.dispose()
    assert row.retrieved_on is not None
    assert (row.expected_instances, row.received_instances, row.attempts) == (12, 12, 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_retry_after_partial_retrieval_moves_only_the_missing_series(
    orthanc: OrthancServer, study_files: list[Path], db_url: str, tmp_path: Path
) -> None:
    uid = record_study_found(db_url, study_files)
    node = PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)
    request = RetrievalRequest(LOCAL, node, tmp_path / "storage", "ORTHANC")
    engine = make_engine(db_url)
    with StorageSCP(LOCAL, request.storage, [orthanc.ae_title]):
        assert retrieve_study(engine, request, uid).outcome == "complete"
        # Lose one series, as if its images had never arrived.
        with Session(engine) as session, session.begin():
            lost = session.scalars(select(Image.series_uid).limit(1)).one()
            session.execute(delete(Image).where(Image.series_uid == lost))
            session.execute(update(StudyFind).values(retrieved_on=None))
        for path in (study_folder(request.storage, uid) / lost).iterdir():
            path.unlink()
        again = retrieve_study(engine, request, uid)
    assert (again.outcome, again.moved, again.images_added, again.received) == (
        "complete",
        4,
        4,
        12,
    )
    with Session(engine) as session:
        row = session.scalars(select(StudyFind)).one()
    engine.dispose()
    assert (row.attempts, row.received_instances) == (2, 12)
    assert row.retrieved_on is not None
