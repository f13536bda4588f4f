"""The dicomweb (QIDO-RS / WADO-RS) and c-get transports, against Orthanc and dcmqrscp.

One Orthanc with its DICOMweb plugin, capped at 5 answers per query
(LimitFindResults caps QIDO-RS too), serves the finds and retrievals; a
second one requires HTTP basic authentication; a local proxy cuts a WADO-RS
response short.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, StudyFind
from pacsflow.demo.synthetic import dataset_bytes, make_study
from pacsflow.ingest.folder_ingest import ingest_folder
from pacsflow.net.dicomweb.access import WebAccess, basic_auth_header
from pacsflow.net.dicomweb.client import DicomWebAuthError
from pacsflow.net.echo import echo
from pacsflow.net.find import find_studies
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.storage_files import INCOMING_FOLDER, study_folder
from pacsflow.peers.dcmtk import DcmqrscpServer
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.one_study import (
    RetrievalInterruptedError,
    RetrievalRequest,
    finish_study,
    retrieve_study,
    transfer_study,
)
from pacsflow.retrieval.series_filter import SeriesFilter
from tests.helpers import record_study_found
from tests.peers.web_proxy import MeddlingProxy

pytestmark = pytest.mark.integration

LOCAL = LocalAE("PACSFLOW", free_port())
CAP = 5
BUSY_DAY = dt.date(2024, 1, 2)  # 12 studies: more than the cap
QUIET_DAY = dt.date(2024, 1, 3)  # 4 studies


@pytest.fixture(scope="module")
def orthanc(study_files: list[Path]) -> Iterator[OrthancServer]:
    server = OrthancServer(
        modalities={LOCAL.ae_title: ("127.0.0.1", LOCAL.port)},
        limit_find_results=CAP,
        dicomweb=True,
    ).start()
    for path in study_files:
        server.upload(path.read_bytes())
    for day, count in ((BUSY_DAY, 12), (QUIET_DAY, 4)):
        for i in range(count):
            study = make_study(
                n_series=1, n_images=1, StudyDate=f"{day:%Y%m%d}", StudyTime=f"{8 + i:02d}0000"
            )
            server.upload_many([dataset_bytes(ds) for ds in study])
    yield server
    server.stop()


def _web(orthanc: OrthancServer) -> PacsNode:
    return PacsNode("ORTHANC", "127.0.0.1", orthanc.http_port, "dicomweb", orthanc.dicomweb_url)


def _dimse(orthanc: OrthancServer, transport: str = "c-move") -> PacsNode:
    return PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port, transport)  # type: ignore[arg-type]


def _uids(result_studies: list[pydicom.Dataset]) -> list[str]:
    return sorted(str(ds.StudyInstanceUID) for ds in result_studies)


def test_qido_finds_a_capped_day_by_splitting_it_as_c_find_does(orthanc: OrthancServer) -> None:
    by_qido = find_studies(LOCAL, _web(orthanc), BUSY_DAY, cap=CAP)
    by_c_find = find_studies(LOCAL, _dimse(orthanc), BUSY_DAY, cap=CAP)
    assert len(by_qido.studies) == 12
    assert _uids(by_qido.studies) == _uids(by_c_find.studies)
    assert by_qido.queries > 1
    assert by_qido.days_split_by_time == ["20240102"]
    assert by_qido.incomplete_windows == []
    answer = by_qido.studies[0]
    assert int(answer.NumberOfStudyRelatedInstances) == 1
    assert list(answer.ModalitiesInStudy) == ["CT"] or answer.ModalitiesInStudy == "CT"


def test_qido_pages_through_a_window_with_limit_and_offset(orthanc: OrthancServer) -> None:
    paged = find_studies(LOCAL, _web(orthanc), QUIET_DAY, cap=CAP, page_size=2)
    assert len(paged.studies) == 4
    assert paged.queries == 1  # one window, in pages of 2: nothing split, nothing repeated
    assert _uids(paged.studies) == _uids(find_studies(LOCAL, _dimse(orthanc), QUIET_DAY).studies)


def _found_study(
    transport: str, orthanc: OrthancServer, study_files: list[Path], db_url: str, tmp_path: Path
) -> tuple[str, RetrievalRequest]:
    """The test study, recorded as found with its 12 instances, and a request for it."""
    uid = record_study_found(db_url, study_files)
    node = _web(orthanc) if transport == "dicomweb" else _dimse(orthanc, "c-get")
    return uid, RetrievalRequest(LOCAL, node, tmp_path / "storage", "ORTHANC")


@pytest.mark.parametrize("transport", ["dicomweb", "c-get"])
def test_a_study_is_retrieved_complete_into_the_database(
    transport: str,
    orthanc: OrthancServer,
    study_files: list[Path],
    db_url: str,
    tmp_path: Path,
) -> None:
    uid, request = _found_study(transport, orthanc, study_files, db_url, tmp_path)
    engine = make_engine(db_url)
    outcome = retrieve_study(engine, request, uid)  # no storage SCP runs
    assert (outcome.outcome, outcome.received, outcome.moved, outcome.images_added) == (
        "complete",
        12,
        12,
        12,
    )
    files = sorted(study_folder(request.storage, uid).rglob("*.dcm"))
    assert len(files) == 12
    sent = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p).PixelData for p in study_files}
    for file in files:
        ds = pydicom.dcmread(file)
        assert file.name == f"{ds.SOPInstanceUID}.dcm"
        assert file.parent.name == ds.SeriesInstanceUID
        assert ds.PixelData == sent[ds.SOPInstanceUID]
    assert list((request.storage / INCOMING_FOLDER).iterdir()) == []
    with Session(engine) as session:
        row = session.scalars(select(StudyFind)).one()
        images = session.scalar(select(Image.id).limit(1))
    engine.dispose()
    assert row.retrieved_on is not None
    assert images is not None
    # A re-run moves nothing: the study is retrieved.
    engine = make_engine(db_url)
    assert retrieve_study(engine, request, uid).outcome == "skipped"
    engine.dispose()


def _image_rows(url: str) -> dict[str, dict[str, object]]:
    """Every image row by SOPInstanceUID, its header parsed, keys and ids left out."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = {
            image.image_uid: {
                column.name: getattr(image, column.name)
                for column in Image.__table__.columns
                if column.name not in ("id", "series_id")
            }
            for image in session.scalars(select(Image))
        }
    engine.dispose()
    return rows


@pytest.mark.parametrize("transport", ["dicomweb", "c-get"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_received_instances_are_indexed_from_the_bytes_that_arrived(
    transport: str,
    orthanc: OrthancServer,
    study_files: list[Path],
    db_url: str,
    new_db_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    uid, request = _found_study(transport, orthanc, study_files, db_url, tmp_path)
    engine = make_engine(db_url)
    moved = transfer_study(engine, request, uid)
    files = sorted(study_folder(request.storage, uid).rglob("*.dcm"))
    assert sorted(moved.arrived) == [str(f) for f in files]  # every file's rows, made on arrival
    # The rows made on arrival equal those the ingest makes by reading the files.
    by_reading = new_db_url("sqlite")
    reading_engine = make_engine(by_reading)
    assert (
        ingest_folder(
            reading_engine, study_folder(request.storage, uid), institution="ORTHANC"
        ).images_added
        == 12
    )
    reading_engine.dispose()
    # Blank every file but keep its size and mtime: an ingest that read them would fail.
    kept = files[0].read_bytes()
    for file in files:
        status = file.stat()
        file.write_bytes(bytes(status.st_size))
        os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))
    outcome = finish_study(engine, request, moved)
    engine.dispose()
    assert (outcome.outcome, outcome.images_added, outcome.files_failed) == ("complete", 12, 0)
    assert _image_rows(db_url) == _image_rows(by_reading)
    # A file changed since it arrived is read again (here: blank, so it fails).
    files[0].write_bytes(kept[:-1])
    engine = make_engine(db_url)
    again = ingest_folder(
        engine, study_folder(request.storage, uid), institution="ORTHANC", arrived=moved.arrived
    )
    engine.dispose()
    assert (again.unchanged, again.failed) == (11, 1)


@pytest.mark.parametrize("transport", ["dicomweb", "c-get"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_series_filter_retrieves_only_the_chosen_series(
    transport: str, orthanc: OrthancServer, study_files: list[Path], db_url: str, tmp_path: Path
) -> None:
    uid = record_study_found(db_url, study_files)
    node = _web(orthanc) if transport == "dicomweb" else _dimse(orthanc, "c-get")
    chosen = SeriesFilter(series_numbers=[2])
    request = RetrievalRequest(LOCAL, node, tmp_path / "storage", "ORTHANC", series_filter=chosen)
    engine = make_engine(db_url)
    outcome = retrieve_study(engine, request, uid)
    engine.dispose()
    assert (outcome.outcome, outcome.expected, outcome.received) == ("complete", 4, 4)
    series = [p for p in study_folder(request.storage, uid).iterdir() if p.is_dir()]
    assert len(series) == 1
    assert len(list(series[0].iterdir())) == 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_wado_response_cut_short_keeps_whole_files_only_and_the_retry_completes(
    orthanc: OrthancServer, study_files: list[Path], db_url: str, tmp_path: Path
) -> None:
    uid = record_study_found(db_url, study_files)
    size = sum(len(p.read_bytes()) for p in study_files)
    # Cut inside the 7th part or so.
    with MeddlingProxy(orthanc.base_url, keep=size // 2) as proxy:
        cut = PacsNode("ORTHANC", "127.0.0.1", 80, "dicomweb", f"{proxy.url}/dicom-web")
        request = RetrievalRequest(LOCAL, cut, tmp_path / "storage", "ORTHANC")
        engine = make_engine(db_url)
        with pytest.raises(RetrievalInterruptedError, match="cut the WADO-RS response"):
            retrieve_study(engine, request, uid)
    kept = sorted(study_folder(request.storage, uid).rglob("*.dcm"))
    assert 0 < len(kept) < 12
    for file in kept:  # every file kept is whole
        assert pydicom.dcmread(file).PixelData
    assert list((request.storage / INCOMING_FOLDER).iterdir()) == []
    with Session(engine) as session:
        row = session.scalars(select(StudyFind)).one()
    assert row.retrieved_on is None
    assert row.attempts == 1
    assert row.received_instances == len(kept)
    whole = RetrievalRequest(LOCAL, _web(orthanc), request.storage, "ORTHANC")
    again = retrieve_study(engine, whole, uid)
    engine.dispose()
    assert (again.outcome, again.received) == ("complete", 12)
    assert again.moved < 12  # only the series still missing images


def test_an_unauthorised_dicomweb_request_is_one_clear_error(study_files: list[Path]) -> None:
    guarded = OrthancServer(dicomweb=True, users={"reader": "s3cret"}).start()
    try:
        node = PacsNode("ORTHANC", "127.0.0.1", guarded.http_port, "dicomweb", guarded.dicomweb_url)
        with pytest.raises(DicomWebAuthError, match=r"HTTP 401.*PACSFLOW_DICOMWEB_TOKEN") as caught:
            echo(LOCAL, node)
        assert caught.value.status == 401
        assert "s3cret" not in str(caught.value)
        with pytest.raises(DicomWebAuthError):
            echo(LOCAL, node, web=WebAccess(headers=basic_auth_header("reader", "wrong")))
        assert echo(LOCAL, node, web=WebAccess(headers=basic_auth_header("reader", "s3cret"))) > 0
    finally:
        guarded.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_c_get_from_dcmqrscp(study_files: list[Path], db_url: str, tmp_path: Path) -> None:
    dcmqrscp = DcmqrscpServer({LOCAL.ae_title: ("127.0.0.1", LOCAL.port)}).start()
    try:
        dcmqrscp.load(study_files)
        uid = record_study_found(db_url, study_files, counted=False)  # dcmqrscp gives no counts
        node = PacsNode(dcmqrscp.ae_title, "127.0.0.1", dcmqrscp.port, "c-get")
        request = RetrievalRequest(LOCAL, node, tmp_path / "storage", "DCMQR")
        engine = make_engine(db_url)
        outcome = retrieve_study(engine, request, uid)
        engine.dispose()
    finally:
        dcmqrscp.stop()
    assert (outcome.outcome, outcome.expected, outcome.received, outcome.moved) == (
        "complete",
        12,
        12,
        12,
    )
