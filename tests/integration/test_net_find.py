"""C-FIND of studies against a real Orthanc, with and without a result cap."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from pacsflow.demo.synthetic import make_dataset, write_dataset
from pacsflow.net.association import PendingTally, check_none_lost, open_association
from pacsflow.net.dimse_errors import CallingAeRefusedError, DimseResponseLostError
from pacsflow.net.find import StudyQuery, find_studies
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port

pytestmark = pytest.mark.integration

DAYS = ("20240110", "20240111", "20240112")
STUDIES_PER_DAY = 10


def _studies(folder: Path) -> Iterator[bytes]:
    """One instance per study: 10 a day over 3 days, at spread times; every third is MR."""
    for day in DAYS:
        for i in range(STUDIES_PER_DAY):
            ds = make_dataset(
                StudyDate=day,
                StudyTime=f"{(i * 7 + 3) % 24:02d}{(i * 13) % 60:02d}00",
                Modality="MR" if i % 3 == 0 else "CT",
                PatientID=f"FIND{day}{i}",
            )
            yield write_dataset(ds, folder / f"{day}-{i}.dcm").read_bytes()


def _orthanc(limit: int, folder: Path) -> OrthancServer:
    server = OrthancServer(
        modalities={"PACSFLOW": ("127.0.0.1", free_port())}, limit_find_results=limit
    ).start()
    for dicom in _studies(folder):
        server.upload(dicom)
    return server


@pytest.fixture(scope="module")
def uncapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = _orthanc(limit=0, folder=tmp_path_factory.mktemp("uncapped"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = _orthanc(limit=4, folder=tmp_path_factory.mktemp("capped"))
    yield server
    server.stop()


def _node(server: OrthancServer) -> PacsNode:
    return PacsNode(server.ae_title, "127.0.0.1", server.dicom_port)


def test_windows_grow_where_studies_are_few(uncapped: OrthancServer) -> None:
    result = find_studies(LocalAE(), _node(uncapped), dt.date(2024, 1, 10), dt.date(2024, 1, 12))
    assert len(result.studies) == len(DAYS) * STUDIES_PER_DAY
    # The first day (10 studies, cap 1000) shows the rest fits in one more query.
    assert result.queries == 2
    assert not result.incomplete_windows
    first = result.studies[0]
    assert first.NumberOfStudyRelatedInstances == 1


def test_a_sparse_month_takes_few_queries(uncapped: OrthancServer) -> None:
    result = find_studies(LocalAE(), _node(uncapped), dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert len(result.studies) == len(DAYS) * STUDIES_PER_DAY
    # Jan 1 (empty), Jan 2-5 (empty, x4), Jan 6-21 (x4: the 30 studies), Jan 22-31 (the rest).
    assert result.queries == 4


def test_a_capped_pacs_still_gives_every_study_exactly_once(capped: OrthancServer) -> None:
    result = find_studies(
        LocalAE(),
        _node(capped),
        dt.date(2024, 1, 10),
        dt.date(2024, 1, 12),
        cap=4,
        window=dt.timedelta(days=3),
    )
    uids = [str(s.StudyInstanceUID) for s in result.studies]
    assert len(uids) == len(set(uids)) == len(DAYS) * STUDIES_PER_DAY
    assert not result.incomplete_windows
    assert set(result.days_split_by_time) == set(DAYS)
    assert result.queries > len(DAYS)


def test_modality_filter(uncapped: OrthancServer) -> None:
    result = find_studies(
        LocalAE(),
        _node(uncapped),
        dt.date(2024, 1, 10),
        dt.date(2024, 1, 12),
        StudyQuery(modalities=("MR",)),
    )
    assert len(result.studies) == len(DAYS) * 4  # i = 0, 3, 6, 9 each day
    assert {str(s.ModalitiesInStudy) for s in result.studies} == {"MR"}


def test_an_ae_the_pacs_does_not_list_cannot_query(uncapped: OrthancServer) -> None:
    """Orthanc aborts the first C-FIND of an AE it does not know: permanent, naming the AE."""
    with pytest.raises(CallingAeRefusedError, match="calling AE title STRANGER: add STRANGER"):
        find_studies(LocalAE("STRANGER"), _node(uncapped), dt.date(2024, 1, 10))


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before the start date"):
        find_studies(
            LocalAE(), PacsNode("X", "127.0.0.1", 104), dt.date(2024, 1, 2), dt.date(2024, 1, 1)
        )


def test_query_keys_never_reach_the_logs(
    uncapped: OrthancServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the root logger; pynetdicom keeps its own level
    marker = "MARKERPID0042"
    find_studies(
        LocalAE(),
        _node(uncapped),
        dt.date(2024, 1, 10),
        query=StudyQuery(keys={"PatientID": marker}),
    )
    assert marker not in caplog.text


def test_an_answer_taken_by_pynetdicom_is_detected(uncapped: OrthancServer) -> None:
    """pynetdicom's association thread can take an answer meant for the caller.

    The test takes the first answer off the DIMSE queue itself, as that thread
    does; the tally must notice that one answer never reached the caller.
    """
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = DAYS[0]
    query.StudyInstanceUID = ""
    node = _node(uncapped)
    with open_association(LocalAE(), node, [StudyRootQueryRetrieveInformationModelFind]) as assoc:
        tally = PendingTally(assoc)
        responses = assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)
        _, stolen = assoc.dimse.get_msg(block=True)
        assert stolen is not None
        received = sum(1 for status, _ in responses if int(status.Status) in (0xFF00, 0xFF01))
        assert received == STUDIES_PER_DAY - 1
        with pytest.raises(DimseResponseLostError, match=f"lost 1 of {STUDIES_PER_DAY} answers"):
            check_none_lost(tally, received, node, "the test query")
