"""The cohort flow against a real Orthanc (and DCMTK's dcmqrscp), on SQLite and PostgreSQL.

The PACS holds five studies. The cohort file names them by accession
number, patient (one with two studies), study UID and StudyDate, plus an
item the PACS does not hold; one study is named by two items and is moved
once. Series filters keep the CT series that are not scouts or localizers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.cohort import cohort_flow
from flows.config import SiteOptions
from flows.options import CohortSelection
from pacsflow.cohorts.bookkeeping import CohortMismatchError
from pacsflow.cohorts.cohort_file import CohortSource
from pacsflow.database.engine import make_engine
from pacsflow.database.models import CohortItem, Image
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.peers.dcmtk import DcmqrscpServer
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.series_filter import SeriesFilter
from tests.helpers import found_studies, latest_artifact, table_counts

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api_url")]

SCP_PORT = free_port()
IMAGES = 2  # per series
NO_SCOUTS = SeriesFilter(modalities=["CT"], exclude_descriptions=["scout|localizer"])


def _study(
    uid_tag: str, patient: str, accession: str, date: str, series: list[tuple[str, str]]
) -> list[Dataset]:
    """A study whose series have the given (Modality, SeriesDescription)."""
    datasets = make_study(
        n_series=len(series),
        n_images=IMAGES,
        PatientID=patient,
        AccessionNumber=accession,
        StudyDate=date,
        StudyInstanceUID=f"1.2.826.0.1.3680043.10.1341.{uid_tag}",
    )
    for ds in datasets:
        modality, description = series[int(ds.SeriesNumber) - 1]
        ds.Modality, ds.SeriesDescription = modality, description
    return datasets


STUDIES = {
    "s1": _study("1", "COHP1", "CACC1", "20240501", [("CT", "AXIAL"), ("CT", "Scout")]),
    "s2": _study("2", "COHP1", "CACC2", "20240610", [("CT", "AXIAL"), ("SR", "report")]),
    "s3": _study("3", "COHP2", "CACC3", "20240502", [("CT", "AXIAL 1mm"), ("CT", "LOCALIZER")]),
    "s4": _study("4", "COHP3", "CACC4", "20240503", [("CT", "topogram SCOUT")]),
    "s5": _study("5", "COHP4", "CACC5", "20240504", [("CT", "AXIAL")]),  # in no item
}
UID = {key: datasets[0].StudyInstanceUID for key, datasets in STUDIES.items()}
EVERY_ROW = [  # (row, status, studies found, studies retrieved) of COHORT
    (1, "retrieved", 1, 1),
    (2, "retrieved", 2, 2),
    (3, "retrieved", 1, 1),
    (4, "not_found", 0, 0),
    (5, "retrieved", 1, 1),
]
COHORT = (
    "AccessionNumber,PatientID,StudyInstanceUID,StudyDate\n"
    "CACC3,,,\n"  # row 1: s3
    ",COHP1,,\n"  # row 2: s1 and s2
    f",,{UID['s4']},\n"  # row 3: s4
    "NOSUCHACC,,,\n"  # row 4: not on the PACS
    ",COHP1,,20240601-20240630\n"  # row 5: s2 again
)


def _files(keys: list[str], folder: Path) -> list[bytes]:
    return [
        write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes()
        for key in keys
        for ds in STUDIES[key]
    ]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}, dicomweb=True).start()
    server.upload_many(_files(list(STUDIES), tmp_path_factory.mktemp("cohort-studies")))
    yield server
    server.stop()


def _cohort_file(tmp_path: Path, text: str = COHORT, name: str = "request-42.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run(
    pacs: PacsNode,
    db_url: str,
    storage: Path,
    source: CohortSource,
    series: SeriesFilter | None = None,
) -> dict[str, Any]:
    """The run's result in its JSON form (``pacsflow cohort run --json`` prints it)."""
    result = cohort_flow(
        cohort=source,
        series=series,
        selection=CohortSelection(),
        site=SiteOptions(
            pacs=pacs, local=LocalAE(port=SCP_PORT), storage=str(storage), db_url=db_url
        ),
    )
    return result.as_dict()


def _statuses(result: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    return [
        (i["row"], i["status"], i["studies_found"], i["studies_retrieved"]) for i in result["items"]
    ]


def _stored_series(db_url: str) -> set[tuple[str, str]]:
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = session.execute(select(Image.study_uid, Image.meta)).all()
    engine.dispose()
    return {(uid, meta["0008103E"]["Value"][0]) for uid, meta in rows if meta}


def _pacs(orthanc: OrthancServer) -> PacsNode:
    return PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port)


def test_cohort_retrieves_what_its_items_name_once_and_reports_each_row(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    source = CohortSource(file=str(_cohort_file(tmp_path)))
    first = _run(_pacs(orthanc), db_url, storage, source)

    assert first["name"] == "request-42"
    assert _statuses(first) == EVERY_ROW
    assert (first["items_total"], first["items_retrieved"], first["items_not_found"]) == (5, 4, 1)
    # s2 is named by rows 2 and 5 and moved once; s5 is in no item and stays on the PACS.
    assert (first["studies_picked"], first["studies_complete"]) == (4, 4)
    images = 2 * IMAGES * 3 + IMAGES
    assert first["images_added"] == images
    counts = table_counts(db_url)
    assert (counts["studies_find"], counts["studies"], counts["images"]) == (4, 4, images)
    assert set(found_studies(db_url)) == {UID["s1"], UID["s2"], UID["s3"], UID["s4"]}
    assert len(list(storage.rglob("*.dcm"))) == images
    table = latest_artifact("cohort-items")
    assert '"row": 4' in table.data
    assert "not_found" in table.data
    assert "CACC" not in table.data
    assert "COHP" not in table.data

    again = _run(_pacs(orthanc), db_url, storage, source)
    assert _statuses(again) == _statuses(first)
    assert (again["studies_picked"], again["images_added"], again["studies_new"]) == (0, 0, 0)
    assert table_counts(db_url) == counts


@pytest.mark.parametrize("transport", ["c-get", "dicomweb"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cohort_over_each_transport_finds_and_retrieves_the_same(
    transport: str, orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    """QIDO-RS answers the items' keys (date ranges included) as C-FIND does; C-GET and
    WADO-RS retrieve with no storage SCP, and the series filter applies."""
    pacs = PacsNode(
        orthanc.ae_title,
        "127.0.0.1",
        orthanc.dicom_port,
        transport,  # type: ignore[arg-type]
        orthanc.dicomweb_url if transport == "dicomweb" else None,
    )
    storage = tmp_path / "storage"
    source = CohortSource(file=str(_cohort_file(tmp_path)))
    first = _run(pacs, db_url, storage, source, NO_SCOUTS)
    assert _statuses(first) == EVERY_ROW
    assert (first["studies_complete"], first["studies_no_matching_series"]) == (3, 1)
    assert _stored_series(db_url) == {
        (UID["s1"], "AXIAL"),
        (UID["s2"], "AXIAL"),
        (UID["s3"], "AXIAL 1mm"),
    }
    assert len(list(storage.rglob("*.dcm"))) == first["images_added"] == 3 * IMAGES
    again = _run(pacs, db_url, storage, CohortSource(name="request-42"))
    assert (again["studies_picked"], again["images_added"]) == (0, 0)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_series_filter_moves_only_matching_series_and_is_kept_with_the_cohort(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    source = CohortSource(file=str(_cohort_file(tmp_path)), name="ct-no-scouts")
    first = _run(_pacs(orthanc), db_url, storage, source, NO_SCOUTS)

    assert _statuses(first) == EVERY_ROW
    assert first["items"][2]["studies_without_matching_series"] == 1  # s4: a scout only
    assert (first["studies_complete"], first["studies_no_matching_series"]) == (3, 1)
    assert _stored_series(db_url) == {
        (UID["s1"], "AXIAL"),
        (UID["s2"], "AXIAL"),
        (UID["s3"], "AXIAL 1mm"),
    }
    assert first["images_added"] == 3 * IMAGES
    assert len(list(storage.rglob("*.dcm"))) == 3 * IMAGES
    rows = found_studies(db_url)
    assert (rows[UID["s4"]].selected_series, rows[UID["s4"]].retrieved_on is not None) == (0, True)
    assert rows[UID["s4"]].last_error is None
    selected = {
        k: (rows[UID[k]].selected_series, rows[UID[k]].received_instances) for k in ("s1", "s3")
    }
    assert (selected["s1"], selected["s3"]) == ((1, IMAGES), (1, IMAGES))

    # By name only: the stored filter applies, and nothing is left to move.
    again = _run(_pacs(orthanc), db_url, storage, CohortSource(name="ct-no-scouts"))
    assert (again["studies_picked"], again["images_added"]) == (0, 0)
    assert again["series_filter"] == NO_SCOUTS.describe()
    with pytest.raises(CohortMismatchError, match="series filter"):
        _run(_pacs(orthanc), db_url, storage, source, SeriesFilter(modalities=["MR"]))
    other_rows = _cohort_file(tmp_path, COHORT.replace("CACC3", "CACC5"), "other.csv")
    with pytest.raises(CohortMismatchError, match="row 1 differs"):
        _run(_pacs(orthanc), db_url, storage, CohortSource(str(other_rows), "ct-no-scouts"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_series_filter_on_dcmqrscp_counts_the_series_images_itself(
    db_url: str, tmp_path: Path
) -> None:
    """dcmqrscp gives no NumberOfSeriesRelatedInstances (nor SeriesDescription): the
    images of the chosen series are listed by an image-level C-FIND instead."""
    paths = []
    for key in ("s2", "s3"):
        for ds in STUDIES[key]:
            paths.append(write_dataset(ds, tmp_path / "files" / f"{ds.SOPInstanceUID}.dcm"))
    server = DcmqrscpServer({"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    try:
        server.load(paths)
        cohort = _cohort_file(tmp_path, "accessionnumber\nCACC2\nCACC3\n", "dcmqr.csv")
        result = _run(
            PacsNode(server.ae_title, "127.0.0.1", server.port),
            db_url,
            tmp_path / "storage",
            CohortSource(file=str(cohort)),
            SeriesFilter(modalities=["CT"]),
        )
    finally:
        server.stop()
    assert _statuses(result) == [(1, "retrieved", 1, 1), (2, "retrieved", 1, 1)]
    assert _stored_series(db_url) == {
        (UID["s2"], "AXIAL"),
        (UID["s3"], "AXIAL 1mm"),
        (UID["s3"], "LOCALIZER"),
    }
    rows = found_studies(db_url)
    assert {(r.expected_instances, r.selected_series) for r in rows.values()} == {
        (None, 1),
        (None, 2),
    }
    assert rows[UID["s2"]].selected_instances == IMAGES


def test_cohort_items_keep_their_keys_in_the_database_only(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    cohort = _cohort_file(tmp_path, "PatientID;ModalitiesInStudy\nCOHP2;CT\nCOHP2;MR\n", "m.csv")
    result = _run(_pacs(orthanc), db_url, tmp_path / "storage", CohortSource(file=str(cohort)))
    assert _statuses(result) == [(1, "retrieved", 1, 1), (2, "not_found", 0, 0)]
    engine = make_engine(db_url)
    with Session(engine) as session:
        items = session.scalars(select(CohortItem).order_by(CohortItem.row_number)).all()
        assert [(i.row_number, i.patient_id, i.modalities, i.status) for i in items] == [
            (1, "COHP2", "CT", "retrieved"),
            (2, "COHP2", "MR", "not_found"),
        ]
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_spreadsheet_cohort_counts_a_study_once_and_its_summary_gives_this_run(
    orthanc: OrthancServer, db_url: str, tmp_path: Path
) -> None:
    """Saved by European Excel (BOM, ';', CRLF, spaced headers, a names column): row 3
    repeats row 1, and row 2 names s2 again with s1; the summary counts 2 studies."""
    cohort = tmp_path / "excel.csv"
    rows = ["Accession Number;Patient Name;Patient ID", "CACC2;X;", ";Y;COHP1", "CACC2;X;", ";;"]
    cohort.write_bytes("\r\n".join(rows).encode("utf-8-sig") + b"\r\n")
    result = _run(_pacs(orthanc), db_url, tmp_path / "storage", CohortSource(file=str(cohort)))
    assert _statuses(result) == [(1, "retrieved", 1, 1), (2, "retrieved", 2, 2)]
    assert (result["items_total"], result["studies_found"], result["studies_retrieved"]) == (
        2,
        2,
        2,
    )
    assert (result["studies_picked"], result["images_added"]) == (2, 2 * 2 * IMAGES)
    assert result["last_run_on"] is not None
    summary = latest_artifact("cohort-summary").data
    assert f"| last run on | {result['last_run_on']} |" in summary
    assert "| studies found | 2 |" in summary


def _unused(_: Dataset) -> None:  # keeps the Dataset import for the study helper's type
    return None
