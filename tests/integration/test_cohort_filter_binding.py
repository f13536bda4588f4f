"""A cohort's series filter binds it once a study was tried under it, not before.

A first run that fails before its first study (the PACS is unreachable, or
the receiver's port is held by a run for another storage folder) leaves the
filter open: a run with another filter is accepted and stores its own. Once
a study of the cohort has been tried under the stored filter, another filter
is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from sqlalchemy import Engine, select

from flows.cohort import cohort_flow
from flows.config import SiteOptions
from flows.options import CohortSelection
from pacsflow.cohorts.bookkeeping import CohortMismatchError, record_cohort, record_item_finds
from pacsflow.cohorts.cohort_file import CohortItemKeys, CohortSource
from pacsflow.cohorts.find import ItemFind
from pacsflow.database.models import Cohort
from pacsflow.database.session import session_scope
from pacsflow.demo.synthetic import make_study, write_dataset
from pacsflow.errors import PacsflowError
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.net.receiver_files import new_lease, running_receiver
from pacsflow.net.receiver_lease import IDLE_EXIT_ENV, ReceiverPortBusyError, ensure_receiver
from pacsflow.peers.orthanc import OrthancServer
from pacsflow.peers.ports import free_port
from pacsflow.retrieval.attempts import SeriesSelection, record_attempt
from pacsflow.retrieval.series_filter import SeriesFilter
from tests.helpers import table_counts

pytestmark = pytest.mark.integration

CT, MR = SeriesFilter(modalities=["CT"]), SeriesFilter(modalities=["MR"])
STUDY_UID = "1.2.826.0.1.3680043.10.1341.77"
SCP_PORT = free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """One study of two series: a CT one and an MR one, one image each."""
    server = OrthancServer(modalities={"PACSFLOW": ("127.0.0.1", SCP_PORT)}).start()
    study = make_study(n_series=2, n_images=1, AccessionNumber="BINDACC1")
    for ds in study:
        ds.Modality = "CT" if ds.SeriesNumber == 1 else "MR"
    folder = tmp_path_factory.mktemp("binding-study")
    server.upload_many(
        [write_dataset(ds, folder / f"{ds.SOPInstanceUID}.dcm").read_bytes() for ds in study]
    )
    yield server
    server.stop()


def _stored_filter(engine: Engine, name: str) -> SeriesFilter:
    with session_scope(engine) as session:
        raw = session.scalar(select(Cohort.series_filter).where(Cohort.name == name))
    return SeriesFilter.from_json(raw)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # pynetdicom, refused connections
@pytest.mark.usefixtures("prefect_api_url")
def test_a_run_failing_before_its_first_study_leaves_the_filter_open(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cohort_file = tmp_path / "unreached.csv"
    cohort_file.write_text("AccessionNumber\nACC-UNREACHED\n")
    unreachable = PacsNode("NOPACS", "127.0.0.1", free_port())  # nothing listens there

    def run(series: SeriesFilter) -> None:
        cohort_flow(
            cohort=CohortSource(file=str(cohort_file)),
            series=series,
            selection=CohortSelection(),
            site=SiteOptions(
                pacs=unreachable,
                local=LocalAE(port=free_port()),
                storage=str(tmp_path / "storage"),
                db_url=db_url,
            ),
        )

    with pytest.raises(PacsflowError) as first:
        run(CT)
    assert not isinstance(first.value, CohortMismatchError)
    assert _stored_filter(engine, "unreached") == CT  # stored, applied by a run by name
    with pytest.raises(PacsflowError) as second:
        run(MR)
    assert not isinstance(second.value, CohortMismatchError), "the filter was bound"
    assert _stored_filter(engine, "unreached") == MR


def test_a_study_tried_under_the_filter_binds_it(db_url: str, engine: Engine) -> None:
    items = [CohortItemKeys(row=1, study_uid=STUDY_UID)]
    with session_scope(engine) as session:
        cohort = record_cohort(session, "tried", items, CT)
    found = Dataset()
    found.StudyInstanceUID, found.StudyDate = STUDY_UID, "20240501"
    found.QueryRetrieveLevel = "STUDY"
    record_item_finds(engine, cohort.cohort_id, [ItemFind(row=1, studies=[found])])
    with session_scope(engine) as session:
        record_attempt(
            session,
            STUDY_UID,
            complete=False,
            received=0,
            expected=None,
            error="cut short",
            selection=SeriesSelection(CT.to_json(), 1, 2),
        )
    with session_scope(engine) as session, pytest.raises(CohortMismatchError, match="CT"):
        record_cohort(session, "tried", items, MR)
    with session_scope(engine) as session:  # without series options: the stored one
        assert record_cohort(session, "tried", items, None).series_filter == CT


@pytest.mark.usefixtures("prefect_api_url")
def test_a_run_refused_by_a_busy_receiver_binds_nothing_and_the_next_run_retrieves(
    orthanc: OrthancServer,
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's case: the port is held by the receiver of another folder, which a run uses."""
    monkeypatch.setenv(IDLE_EXIT_ENV, "600")  # the receivers leave when told, not by the clock
    folder_a, folder_b = (tmp_path / "storage-a").resolve(), tmp_path / "storage-series"
    local = LocalAE(port=SCP_PORT)
    cohort_file = tmp_path / "ser.csv"
    cohort_file.write_text("AccessionNumber\nBINDACC1\n")

    def run(series: SeriesFilter) -> dict[str, object]:
        result = cohort_flow(
            cohort=CohortSource(file=str(cohort_file)),
            series=series,
            selection=CohortSelection(),
            site=SiteOptions(
                pacs=PacsNode(orthanc.ae_title, "127.0.0.1", orthanc.dicom_port),
                local=local,
                storage=str(folder_b),
                db_url=db_url,
            ),
        )
        return result.as_dict()

    busy = ensure_receiver(local, folder_a, orthanc.ae_title)
    lease = new_lease(folder_a)  # a run for folder A uses its receiver
    with pytest.raises(ReceiverPortBusyError, match=f"receiver for {folder_a}, in use by a run"):
        run(CT)
    assert running_receiver(folder_a) == busy, "the receiver in use stays"
    assert _stored_filter(engine, "ser") == CT

    lease.unlink()  # that run is done: its receiver is idle and gives way
    done = run(MR)
    assert (done["studies_complete"], done["images_added"]) == (1, 1)
    assert running_receiver(folder_a) is None
    assert len(list(folder_b.rglob("*.dcm"))) == 1
    assert _stored_filter(engine, "ser") == MR

    with pytest.raises(CohortMismatchError, match="MR"):  # a study was retrieved under MR
        run(CT)
    assert table_counts(db_url)["images"] == 1
